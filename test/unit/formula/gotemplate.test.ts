import { describe, expect, it } from 'vitest';
import { parseGoTemplate, renderGoTemplate, TemplateSyntaxError, type TemplateValue } from '../../../src/formula/gotemplate.js';

const render = (text: string, data: TemplateValue) => renderGoTemplate(parseGoTemplate(text), data);

function syntax(text: string): TemplateSyntaxError {
  try {
    parseGoTemplate(text);
  } catch (err) {
    if (err instanceof TemplateSyntaxError) return err;
    throw err;
  }
  throw new Error(`parsed: ${text}`);
}

describe('Go templates of convoy formulas', () => {
  it('renders fields, nested fields and the dot; a missing key is empty', () => {
    expect(render('{{.a}}/{{.leg.id}}/{{ .missing }}/{{.leg.none.deeper}}', { a: 'x', leg: { id: 'l1' } })).toBe('x/l1//');
    expect(render('{{range .xs}}<{{.}}>{{end}}', { xs: ['a', 'b'] })).toBe('<a><b>');
  });

  it('if / else if / else, truthy as Go: empty text and empty lists are false, "false" is not', () => {
    const t = '{{if .a}}A{{else if .b}}B{{else}}C{{end}}';
    expect(render(t, { a: 'yes' })).toBe('A');
    expect(render(t, { a: '', b: 'false' })).toBe('B');
    expect(render(t, { b: [] })).toBe('C');
  });

  it('range over a list, over text split on commas and newlines, with {{else}} when empty; with', () => {
    expect(render('{{range .files}}- {{.}}\n{{else}}none{{end}}', { files: 'a.ts, b.ts\nc.ts' })).toBe('- a.ts\n- b.ts\n- c.ts\n');
    expect(render('{{range .files}}- {{.}}{{else}}none{{end}}', { files: '' })).toBe('none');
    expect(render('{{range .cf}}{{.path}} +{{.add}};{{end}}', { cf: [{ path: 'x', add: '1' }, { path: 'y', add: '2' }] })).toBe('x +1;y +2;');
    expect(render('{{with .leg}}{{.id}}{{else}}-{{end}}', { leg: { id: 'l' } })).toBe('l');
  });

  it('trims around {{- and -}}, and drops comments', () => {
    expect(render('a  {{- .x -}}  b', { x: 'X' })).toBe('aXb');
    expect(render('{{if .p -}}\nP\n{{- end}}.', { p: '1' })).toBe('P.');
    expect(render('a{{/* note */}}b{{- /* trimmed */ -}} c', {})).toBe('abc');
  });

  it('lists the top-level keys, not the fields of range items', () => {
    expect(parseGoTemplate('{{.a}}{{range .xs}}{{.path}}{{end}}{{if .b.c}}{{end}}').keys).toEqual(['a', 'xs', 'b']);
  });

  it('refuses what does not parse, with line and column', () => {
    expect(syntax('one\ntwo {{if .x}}\nthree')).toMatchObject({ line: 2, column: 5, problem: '{{if .x}} has no {{end}}' });
    expect(syntax('{{.a}}{{end}}')).toMatchObject({ line: 1, column: 7, problem: 'unexpected {{end}}' });
    expect(syntax('x\n{{.a')).toMatchObject({ line: 2, problem: 'unclosed action: "{{" without "}}"' });
    expect(syntax('{{printf "%s" .a}}').problem).toBe('function "printf" not defined in {{printf "%s" .a}}');
    expect(syntax('{{.a | upper}}').problem).toMatch(/pipelines/);
    expect(syntax('{{range $i, $x := .a}}{{end}}').problem).toMatch(/variables such as \$i,/);
    expect(syntax('{{if}}{{end}}').problem).toBe('missing value for if');
    expect(syntax('{{range .a}}x{{else if .b}}y{{end}}').problem).toMatch(/unexpected \{\{else if \.b\}\} in \{\{range\}\}/);
  });
});
