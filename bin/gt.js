#!/usr/bin/env node
import '../dist/cli/gt.js';
