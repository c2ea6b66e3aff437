// Values from a description quoted into messages. Long values are cut, so a
// hostile 100 000-character attribute cannot flood a terminal or a CI log.

const MAX_SHOWN = 80;

export function quoteValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  if (text.length <= MAX_SHOWN) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, MAX_SHOWN))}… (${text.length} characters)`;
}
