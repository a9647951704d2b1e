import type { ComponentChildren, JSX } from "preact";
import { useEffect, useId, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, post, type MessageStatus, type Preview } from "./api";
import { lang, plural, t, type Key } from "./i18n";

/** Errors keyed by the field the API named; "" holds an error that names no field. */
export type FieldErrors = Record<string, string>;

export function errorsOf(e: unknown): FieldErrors {
  if (e instanceof ApiError) {
    let msg = e.message;
    if (e.status === 402 && typeof e.details["balance"] === "number" && typeof e.details["cost"] === "number") {
      msg = t("error.credits", { balance: e.details["balance"] as number, cost: e.details["cost"] as number });
    }
    return { [e.field ?? ""]: msg };
  }
  return { "": e instanceof Error ? e.message : String(e) };
}

/** The error for an input: the API named it, or something inside it ("business_hours.weekly.mon"
 * shows the error of "business_hours.weekly.mon.0.end"). */
export function errorFor(errors: FieldErrors | undefined, name: string): string | undefined {
  if (!errors) return undefined;
  if (errors[name] !== undefined) return errors[name];
  const inner = Object.keys(errors).find((k) => k.startsWith(`${name}.`));
  return inner === undefined ? undefined : errors[inner];
}

const isKnown = (field: string, known: string[]) => known.some((k) => field === k || field.startsWith(`${k}.`));

/** Errors for fields this form has no input for show at the top. */
export function FormError({ errors, known }: { errors: FieldErrors; known: string[] }) {
  const rest = Object.entries(errors).filter(([k]) => !isKnown(k, known));
  if (!rest.length) return null;
  return (
    <div class="error-banner" role="alert">
      {rest.map(([k, v]) => (
        <p key={k}>{k ? `${k}: ${v}` : v}</p>
      ))}
    </div>
  );
}

interface FieldProps {
  label: string;
  name: string;
  errors?: FieldErrors;
  hint?: ComponentChildren;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby"?: string; name: string }) => JSX.Element;
}

/** A label, the input and, under it, the API's error for this field. */
export function Field({ label, name, errors, hint, children }: FieldProps) {
  const id = useId();
  const err = errorFor(errors, name);
  const describedBy = [hint ? `${id}-hint` : "", err ? `${id}-err` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children({ id, name, "aria-invalid": !!err, ...(describedBy ? { "aria-describedby": describedBy } : {}) })}
      {hint ? (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
      {err ? (
        <div class="field-error" id={`${id}-err`} role="alert" data-field={name}>
          {err}
        </div>
      ) : null}
    </div>
  );
}

/** A list of dates (YYYY-MM-DD) edited with a date input and "add", shown sorted as removable chips
 * (a channel's business-hours holidays, quiet hours' extra closing days). */
export function DateListField({
  label,
  name,
  hint,
  errors,
  dates,
  onChange,
  addLabel,
  removeLabel,
  testId,
}: {
  label: string;
  name: string;
  hint: string;
  errors: FieldErrors;
  dates: string[];
  onChange: (dates: string[]) => void;
  addLabel: string;
  removeLabel: (date: string) => string;
  testId: string;
}) {
  const [date, setDate] = useState("");
  const format = new Intl.DateTimeFormat(lang.get(), { dateStyle: "medium", timeZone: "UTC" });
  return (
    <>
      <Field label={label} name={name} errors={errors} hint={hint}>
        {(p) => (
          <div class="inline-form">
            <input {...p} type="date" value={date} onInput={(e) => setDate((e.target as HTMLInputElement).value)} />
            <button
              type="button"
              disabled={!date}
              onClick={() => {
                if (date && !dates.includes(date)) onChange([...dates, date].sort());
                setDate("");
              }}
            >
              {addLabel}
            </button>
          </div>
        )}
      </Field>
      <ul class="chips" data-testid={testId}>
        {dates.map((d) => (
          <li key={d}>
            <time dateTime={d}>{format.format(new Date(`${d}T00:00:00Z`))}</time>
            <button type="button" class="small" aria-label={removeLabel(d)} onClick={() => onChange(dates.filter((x) => x !== d))}>
              ×
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}

export function StatusBadge({ status }: { status: MessageStatus }) {
  return <span class={`badge status-${status}`}>{t(`status.${status}` as Key)}</span>;
}

/** The live counter: POST /v1/messages/preview (debounced) counts as the server will charge, and
 * normalises the recipient to E.164 (with a placeholder text while the message is still empty). */
export function usePreview(
  text: string,
  channelId: string | null,
  to?: string,
): { preview: Preview | null; number: string | null; error: string | null } {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const hasText = !!text.trim();
  const hasTo = !!to?.trim();
  useEffect(() => {
    const mine = ++seq.current;
    if (!hasText && !hasTo) {
      setPreview(null);
      setError(null);
      return;
    }
    const handle = setTimeout(() => {
      const body: Record<string, string> = { text: hasText ? text : "." };
      if (channelId) body["channel_id"] = channelId;
      if (hasTo && to) body["to"] = to.trim();
      post<Preview>("/v1/messages/preview", body).then(
        (p) => {
          if (mine !== seq.current) return;
          setPreview(p);
          setError(null);
        },
        (e: unknown) => {
          if (mine !== seq.current) return;
          setPreview(null);
          setError(e instanceof Error ? e.message : String(e));
        },
      );
    }, 200);
    return () => clearTimeout(handle);
  }, [text, channelId, to]);
  return { preview: hasText ? preview : null, number: hasTo ? (preview?.to ?? null) : null, error: hasText || hasTo ? error : null };
}

/** Characters, encoding (and which characters force UCS-2), segments and credits, in a box of
 * fixed height so the form never jumps while typing. */
export function Counter({ preview, error }: { preview: Preview | null; error: string | null }) {
  const p = preview;
  return (
    <div class="counter" aria-live="polite" data-testid="counter">
      <div class="counter-line">
        <span data-testid="counter-chars">{plural("counter.characters", p?.characters ?? 0)}</span>
        <span data-testid="counter-encoding" class={p?.encoding === "UCS-2" ? "warn" : ""}>
          {p?.encoding ?? "GSM-7"}
        </span>
        <span data-testid="counter-segments">{plural("counter.segments", p?.segments ?? 0)}</span>
        <span data-testid="counter-credits">{plural("counter.credits", p?.credits ?? 0)}</span>
        {p ? <span class="muted">{t("counter.left", { n: p.units_left })}</span> : null}
      </div>
      <div class="counter-line muted" data-testid="counter-detail">
        {error
          ? error
          : p && p.non_gsm_characters.length
            ? t("counter.ucs2", { chars: p.non_gsm_characters.map((c) => `“${c}”`).join(" ") })
            : p && !p.within_limit
              ? t("counter.toolong", { n: p.max_segments })
              : " "}
      </div>
    </div>
  );
}

/** A modal dialog (the native <dialog>: focus stays inside, Escape closes it, focus returns to
 * the control that opened it). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const gone = useRef(false);
  const id = useId();
  useLayoutEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => {
      // Outside an open modal dialog everything is inert: close it before giving focus back.
      gone.current = true;
      if (d?.open) d.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={`${id}-title`}
      onClose={() => {
        if (!gone.current) onClose();
      }}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div class="row">
        <h2 id={`${id}-title`}>{title}</h2>
        <button type="button" class="small" aria-label={t("common.close")} onClick={onClose}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}

/** Closes a popover on Escape (and gives focus back to its button). */
export function useEscape(open: boolean, close: () => void): void {
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        close();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);
}

/** "3 min 20 s" from seconds. */
export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined) return "–";
  const total = Math.round(s);
  if (total < 60) return t("time.s", { n: total });
  const m = Math.floor(total / 60);
  if (m < 60) return total % 60 ? t("time.ms", { m, s: total % 60 }) : t("time.m", { m });
  return t("time.hm", { h: Math.floor(m / 60), m: m % 60 });
}

export function Spinner() {
  return <span class="muted">…</span>;
}

export function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="small"
      onClick={() =>
        void navigator.clipboard?.writeText(text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        })
      }
    >
      {done ? t("common.copied") : t("common.copy")}
    </button>
  );
}
