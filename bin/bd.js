#!/usr/bin/env node
import '../dist/cli/bd.js';
