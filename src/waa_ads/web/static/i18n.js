// @ts-check
// The page's messages in its language. The server renders every page in one locale and
// puts that locale's catalogue in the page as a JSON data block
// (<script type="application/json" id="waa-messages">), so modules can look sentences up
// as they load, with no request and no inline script. A sentence missing from the
// catalogue is shown in English, as written in the code.
//
//   t("Saved at {time}", {time})            one sentence, {name} filled in
//   nt("{count} answer", "{count} answers", n, {count: n})   a plural, chosen by Intl.PluralRules
//   pt("button", "Next")                    a sentence with a context
//
// Dates, times and numbers are formatted with Intl in the page's locale (formatTime,
// formatNumber); the server sends instants in UTC and lengths of time in seconds.

/**
 * @typedef {{locale: string, dir: string, messages: Record<string, string | Record<string, string>>, languages?: Record<string, {name: string, dir: string}>}} Catalogue
 */

/** @returns {Catalogue} */
function readCatalogue() {
  const fallback = { locale: document.documentElement.lang || "en", dir: "ltr", messages: {} };
  const block = typeof document === "undefined" ? null : document.getElementById("waa-messages");
  if (!block || !block.textContent) return fallback;
  try {
    const parsed = JSON.parse(block.textContent);
    if (parsed && typeof parsed === "object" && parsed.messages) return parsed;
  } catch {
    // A broken block is the same as none: English throughout.
  }
  return fallback;
}

const catalogue = readCatalogue();

/** The locale the page is shown in (a BCP 47 tag). */
export const locale = catalogue.locale;

/**
 * Every language the server can show the page in: its name in itself and its direction.
 * @type {Record<string, {name: string, dir: string}>}
 */
export const languages = catalogue.languages ?? {};

/** Formatting locale: a pseudo-locale formats like its base language. */
const formatLocale = locale === "en-XA" ? "en" : locale === "ar-XB" ? "ar" : locale;

/**
 * @param {string} text
 * @param {Record<string, string | number> | undefined} vars
 */
function fill(text, vars) {
  if (!vars) return text;
  return text.replace(/\{([a-z_]+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole,
  );
}

/**
 * A sentence in the page's language.
 * @param {string} message the English sentence
 * @param {Record<string, string | number>} [vars]
 */
export function t(message, vars) {
  const found = catalogue.messages[message];
  return fill(typeof found === "string" ? found : message, vars);
}

/**
 * A sentence with a context that tells two uses of the same English apart.
 * @param {string} context
 * @param {string} message
 * @param {Record<string, string | number>} [vars]
 */
export function pt(context, message, vars) {
  const found = catalogue.messages[`${context}\u0004${message}`];
  return fill(typeof found === "string" ? found : message, vars);
}

/** @type {Intl.PluralRules | null} */
let rules = null;

/**
 * The plural form for `n` in the page's language.
 * @param {string} singular
 * @param {string} plural
 * @param {number} n
 * @param {Record<string, string | number>} [vars]
 */
export function nt(singular, plural, n, vars) {
  const found = catalogue.messages[singular];
  if (found && typeof found === "object") {
    rules ??= new Intl.PluralRules(formatLocale);
    const form = found[rules.select(n)] ?? found.other;
    if (form) return fill(form, vars);
  }
  return fill(n === 1 ? singular : plural, vars);
}

/**
 * A time of day (and date when `withDate`) in the page's language.
 * @param {Date | string | number} value
 * @param {boolean} [withDate]
 */
export function formatTime(value, withDate = false) {
  const date = value instanceof Date ? value : new Date(value);
  /** @type {Intl.DateTimeFormatOptions} */
  const options = withDate
    ? { dateStyle: "medium", timeStyle: "short" }
    : { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(formatLocale, options).format(date);
}

/**
 * A number in the page's language.
 * @param {number} value
 * @param {Intl.NumberFormatOptions} [options]
 */
export function formatNumber(value, options) {
  return new Intl.NumberFormat(formatLocale, options).format(value);
}
