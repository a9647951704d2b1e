/** Path routing with the History API (the server answers index.html for every app path). */
import { signal } from "./state";

export const path = signal<string>(location.pathname + location.search);

export function navigate(to: string): void {
  if (to === path.get()) return;
  history.pushState(null, "", to);
  path.set(to);
}
addEventListener("popstate", () => path.set(location.pathname + location.search));

export function onLinkClick(e: MouseEvent): void {
  const a = (e.target as HTMLElement | null)?.closest?.("a");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("//")) return;
  e.preventDefault();
  navigate(href);
}
