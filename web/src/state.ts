/** A tiny observable value with a Preact hook (no extra dependency). */
import { useEffect, useState } from "preact/hooks";

export interface Signal<T> {
  get(): T;
  set(v: T): void;
  subscribe(fn: (v: T) => void): () => void;
}

export function signal<T>(value: T): Signal<T> {
  const subs = new Set<(v: T) => void>();
  return {
    get: () => value,
    set(v: T) {
      value = v;
      subs.forEach((fn) => fn(v));
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}

export function useSignal<T>(s: Signal<T>): T {
  const [v, setV] = useState(s.get());
  useEffect(() => s.subscribe(setV), [s]);
  return v;
}

/** Calls `fn` now and every `ms` while mounted (and the tab is visible); `deps` restart it. */
export function usePolling(fn: () => Promise<void> | void, ms: number, deps: unknown[]): void {
  useEffect(() => {
    let stopped = false;
    let handle: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (stopped) return;
      if (document.visibilityState !== "hidden") {
        try {
          await fn();
        } catch {
          /* the next tick retries; the screen shows its own errors */
        }
      }
      if (!stopped) handle = setTimeout(tick, ms);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(handle);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}
