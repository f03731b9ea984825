/**
 * Text from data (engine names, messages, scenario names, replay lines) made safe to put into
 * HTML and SVG, as element text or as a quoted attribute value. Every string that did not come
 * from this folder's own code goes through `esc` before it reaches the page.
 */

/** Escaped for element text and double- or single-quoted attribute values; characters HTML forbids become U+FFFD. */
export function esc(text: string | number): string {
  return String(text)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A number for an SVG coordinate: short, and never `NaN` or an exponent. */
export function num(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a coordinate: ${value}`);
  return String(Math.round(value * 10) / 10);
}
