/** Message catalogues (en, nl, es, fr), the language from the user's profile (or a choice made on
 * this device before signing in) or else the browser's (navigator.languages), and Intl formatting of dates and numbers in that locale. Every catalogue
 * has every key of English (checked by the compiler). */
import { signal } from "./state";
import { en } from "./locales/en";
import { nl } from "./locales/nl";
import { es } from "./locales/es";
import { fr } from "./locales/fr";

export type Key = keyof typeof en;
export type Catalogue = Record<Key, string>;
export const LANGUAGES = { en: "English", nl: "Nederlands", es: "Español", fr: "Français" } as const;
export type Lang = keyof typeof LANGUAGES;
const CATALOGUES: Record<Lang, Catalogue> = { en, nl, es, fr };
const STORAGE_KEY = "smsdesk.lang";

export function pickLanguage(preferred: readonly string[]): Lang {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0] ?? "";
    if (base in LANGUAGES) return base as Lang;
  }
  return "en";
}

/** The browser's languages, best first. */
export function browserLanguage(): Lang {
  return pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language]);
}

function stored(): Lang | null {
  const v = localStorage.getItem(STORAGE_KEY);
  return v && v in LANGUAGES ? (v as Lang) : null;
}

/** The language chosen (the profile's, or on this device before signing in); null = the browser's. */
export const languageChoice = signal<Lang | null>(stored());
/** The language the app speaks now. */
export const lang = signal<Lang>(stored() ?? browserLanguage());

/** Speak `choice` (null: the browser's languages). It is also kept on this device, so the sign-in
 * page speaks it after a sign-out; the profile (`PATCH /v1/me`) is what follows the user. */
export function setLanguage(choice: Lang | null): void {
  if (choice) localStorage.setItem(STORAGE_KEY, choice);
  else localStorage.removeItem(STORAGE_KEY);
  const l = choice ?? browserLanguage();
  languageChoice.set(choice);
  document.documentElement.lang = l;
  lang.set(l);
}
document.documentElement.lang = lang.get();

/** The browser's own locale when it speaks the chosen language (nl-BE, es-MX, fr-CA…), else the language. */
function locale(): string {
  const l = lang.get();
  return (navigator.languages ?? []).find((t) => t.toLowerCase().split("-")[0] === l) ?? l;
}

export function t(key: Key, params?: Record<string, string | number>): string {
  let s = CATALOGUES[lang.get()][key] ?? en[key];
  if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(typeof v === "number" ? num(v) : v);
  return s;
}

/** "1 segment" / "2 segments": catalogues hold "one|other" forms. */
export function plural(key: Key, n: number): string {
  const [one, other] = t(key).split("|");
  const form = new Intl.PluralRules(locale()).select(n) === "one" ? one : (other ?? one);
  return (form ?? "").split("{n}").join(num(n));
}

export const num = (n: number): string => new Intl.NumberFormat(locale()).format(n);
export const dateTime = (iso: string | null | undefined): string =>
  iso ? new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "short" }).format(new Date(iso)) : "";
export const time = (iso: string): string =>
  new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(iso));
