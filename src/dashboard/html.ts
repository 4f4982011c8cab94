/** Text made safe to put in HTML (element content and quoted attribute values). */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A link to a workflow's Temporal Web UI page, or the plain text when no Web UI is known. */
export function uiLink(text: string, href: string | undefined): string {
  return href ? `<a href="${esc(href)}" target="_blank" rel="noopener" title="open in the Temporal Web UI">${esc(text)}</a>` : esc(text);
}
