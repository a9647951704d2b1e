import { useEffect, useRef, useState } from "preact/hooks";
import { api, get, post, type Bot, type BotRun, type BotStep, type Page, type StepType } from "../api";
import { errorFor, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, t, type Key } from "../i18n";
import { navigate } from "../router";

const STEP_TYPES: StepType[] = ["send", "ask", "csat", "set_field", "assign", "handoff", "close", "end"];
/** The keys each step type accepts (the API refuses others). */
const KEYS: Record<StepType, (keyof BotStep)[]> = {
  send: ["text", "next"],
  ask: ["text", "choices", "save_to", "next", "timeout_s", "timeout_next"],
  csat: ["text", "next", "timeout_s", "timeout_next"],
  set_field: ["field", "value", "next"],
  assign: ["user_id", "team_id"],
  handoff: [],
  close: [],
  end: [],
};

/** A step as the API takes it: only its type's keys, empty ones left out. */
function clean(step: BotStep): BotStep {
  const out: Record<string, unknown> = { id: step.id, type: step.type };
  for (const k of KEYS[step.type]) {
    const v = step[k];
    if (v === undefined || v === null || v === "") continue;
    if (k === "timeout_s" && !v) continue;
    out[k] = v;
  }
  return out as unknown as BotStep;
}

/** "flow.steps.2.ask.next" (the API names the step's type on a shape error) → "flow.steps.2.next". */
function normalised(errors: FieldErrors): FieldErrors {
  const out: FieldErrors = {};
  for (const [k, v] of Object.entries(errors)) out[k.replace(/^(flow\.steps\.\d+)\.(send|ask|csat|set_field|assign|handoff|close|end)\b/, "$1")] = v;
  return out;
}

/** Bots (admin): the list. */
export function Bots() {
  const [bots, setBots] = useState<Bot[] | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  useEffect(() => void get<Page<Bot>>("/v1/bots?limit=100").then((p) => setBots(p.items), (e: unknown) => setErrors(errorsOf(e))), []);
  return (
    <section class="card wide" aria-labelledby="bots-title">
      <h1 id="bots-title">{t("nav.bots")}</h1>
      <p class="muted">{t("bots.intro")}</p>
      <p>
        <a href="/admin/bots/new" class="button primary">
          {t("bots.new")}
        </a>
      </p>
      <FormError errors={errors} known={[]} />
      {bots?.length === 0 ? <p class="muted">{t("bots.none")}</p> : null}
      {bots?.length ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("bots.name")}</th>
                <th scope="col">{t("bots.kind")}</th>
                <th scope="col">{t("bots.enabled")}</th>
              </tr>
            </thead>
            <tbody>
              {bots.map((b) => (
                <tr key={b.id} data-bot={b.name}>
                  <td>
                    <a href={`/admin/bots/${encodeURIComponent(b.id)}`}>{b.name}</a>
                  </td>
                  <td>{t(`bots.kind.${b.kind}` as Key)}</td>
                  <td>{b.enabled ? t("common.on") : t("common.off")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

interface Draft {
  name: string;
  kind: "scripted" | "webhook";
  enabled: boolean;
  steps: BotStep[];
  webhook_url: string;
  webhook_secret: string;
}

const STARTER: BotStep[] = [
  { id: "hello", type: "send", text: "Thanks for your message!", next: "order" },
  { id: "order", type: "ask", text: "What is your order number?", save_to: "", next: "agents" },
  { id: "agents", type: "handoff" },
];

/** A bot's page (and /admin/bots/new): the steps editor, checked by the API as you type. The form
 * appears only once the bot has arrived (a late answer never replaces a form being typed in). */
export function BotEditor({ id }: { id: string }) {
  const isNew = id === "new";
  const [draft, setDraft] = useState<Draft | null>(
    isNew ? { name: "", kind: "scripted", enabled: true, steps: STARTER, webhook_url: "", webhook_secret: "" } : null,
  );
  const [hasSecret, setHasSecret] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [check, setCheck] = useState<FieldErrors | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (isNew) return;
    void get<Bot>(`/v1/bots/${encodeURIComponent(id)}`).then(
      (b) => {
        setHasSecret(b.has_secret);
        setDraft({ name: b.name, kind: b.kind, enabled: b.enabled, steps: b.flow?.steps ?? [], webhook_url: b.webhook_url ?? "", webhook_secret: "" });
      },
      (e: unknown) => setErrors(errorsOf(e)),
    );
  }, [id]);
  const body = (d: Draft) =>
    d.kind === "scripted"
      ? { name: d.name || "draft", kind: d.kind, enabled: d.enabled, flow: { steps: d.steps.map(clean) } }
      : { name: d.name || "draft", kind: d.kind, enabled: d.enabled, webhook_url: d.webhook_url, ...(d.webhook_secret ? { webhook_secret: d.webhook_secret } : {}) };
  // Validate as you type (300 ms after the last change): the API's own checks, errors under the step.
  const seq = useRef(0);
  useEffect(() => {
    if (!draft || draft.kind !== "scripted") return;
    const mine = ++seq.current;
    const timer = setTimeout(() => {
      void post("/v1/bots/validate", body(draft)).then(
        () => mine === seq.current && setCheck({}),
        (e: unknown) => mine === seq.current && setCheck(normalised(errorsOf(e))),
      );
    }, 300);
    return () => clearTimeout(timer);
  }, [draft]);
  if (!draft) return <FormError errors={errors} known={[]} />;
  const set = (patch: Partial<Draft>) => {
    setSaved(false);
    setDraft({ ...draft, ...patch });
  };
  const setStep = (i: number, patch: Partial<BotStep>) => set({ steps: draft.steps.map((s, j) => (j === i ? { ...s, ...patch } : s)) });
  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      const bot = isNew ? await post<Bot>("/v1/bots", body(draft)) : await api<Bot>("PUT", `/v1/bots/${encodeURIComponent(id)}`, body(draft));
      setSaved(true);
      setHasSecret(bot.has_secret);
      if (isNew) navigate(`/admin/bots/${encodeURIComponent(bot.id)}`);
    } catch (err) {
      setErrors(normalised(errorsOf(err)));
    }
  };
  const remove = async () => {
    if (!confirm(t("bots.deleteconfirm"))) return;
    try {
      await api("DELETE", `/v1/bots/${encodeURIComponent(id)}`);
      navigate("/admin/bots");
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const shown = { ...(check ?? {}), ...errors };
  const ids = draft.steps.map((s) => s.id);
  const target = (i: number, name: keyof BotStep, label: Key, value: string | null | undefined, none: Key = "bots.none_next") => (
    <Field label={t(label)} name={`flow.steps.${i}.${name}`} errors={shown}>
      {(p) => (
        <select {...p} value={value ?? ""} onChange={(e) => setStep(i, { [name]: (e.target as HTMLSelectElement).value || null })}>
          <option value="">{t(none)}</option>
          {[...new Set([...ids, ...(value ? [value] : [])])].map((sid) => (
            <option key={sid} value={sid}>
              {sid}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
  return (
    <section class="card wide" aria-labelledby="bot-title">
      <p class="row">
        <a href="/admin/bots">← {t("nav.bots")}</a>
      </p>
      <h1 id="bot-title">{isNew ? t("bots.new") : draft.name}</h1>
      <form onSubmit={(e) => void save(e)} aria-labelledby="bot-title">
        <div class="grid2">
          <Field label={t("bots.name")} name="name" errors={shown}>
            {(p) => <input {...p} required maxLength={80} value={draft.name} onInput={(e) => set({ name: (e.target as HTMLInputElement).value })} />}
          </Field>
          <Field label={t("bots.kind")} name="kind" errors={shown}>
            {(p) => (
              <select {...p} value={draft.kind} onChange={(e) => set({ kind: (e.target as HTMLSelectElement).value as Draft["kind"] })}>
                <option value="scripted">{t("bots.kind.scripted")}</option>
                <option value="webhook">{t("bots.kind.webhook")}</option>
              </select>
            )}
          </Field>
        </div>
        <label class="check">
          <input type="checkbox" checked={draft.enabled} onChange={() => set({ enabled: !draft.enabled })} /> {t("bots.enabled")}
        </label>
        {draft.kind === "webhook" ? (
          <div class="grid2">
            <Field label={t("bots.webhook_url")} name="webhook_url" errors={shown}>
              {(p) => <input {...p} type="url" value={draft.webhook_url} onInput={(e) => set({ webhook_url: (e.target as HTMLInputElement).value })} />}
            </Field>
            <Field label={t("bots.webhook_secret")} name="webhook_secret" errors={shown} hint={hasSecret ? t("bots.secretkept") : undefined}>
              {(p) => (
                <input {...p} type="password" autoComplete="new-password" value={draft.webhook_secret} onInput={(e) => set({ webhook_secret: (e.target as HTMLInputElement).value })} />
              )}
            </Field>
          </div>
        ) : (
          <>
            <h2>{t("bots.steps")}</h2>
            <p class="muted" role="status" data-testid="flow-check">
              {check === null ? "" : Object.keys(check).length ? t("bots.invalid") : t("bots.valid")}
            </p>
            <ol class="bot-steps">
              {draft.steps.map((s, i) => (
                <li key={i} class="subcard" data-step={s.id}>
                  <div class="grid2">
                    <Field label={t("bots.step.id")} name={`flow.steps.${i}.id`} errors={shown}>
                      {(p) => <input {...p} value={s.id} maxLength={40} onInput={(e) => setStep(i, { id: (e.target as HTMLInputElement).value })} />}
                    </Field>
                    <Field label={t("bots.step.type")} name={`flow.steps.${i}.type`} errors={shown}>
                      {(p) => (
                        <select {...p} value={s.type} onChange={(e) => setStep(i, { type: (e.target as HTMLSelectElement).value as StepType })}>
                          {STEP_TYPES.map((k) => (
                            <option key={k} value={k}>
                              {t(`bots.type.${k}` as Key)}
                            </option>
                          ))}
                        </select>
                      )}
                    </Field>
                    {KEYS[s.type].includes("text") ? (
                      <Field label={t("bots.step.text")} name={`flow.steps.${i}.text`} errors={shown}>
                        {(p) => <textarea {...p} rows={2} value={s.text ?? ""} onInput={(e) => setStep(i, { text: (e.target as HTMLTextAreaElement).value })} />}
                      </Field>
                    ) : null}
                    {s.type === "ask" ? (
                      <Field label={t("bots.step.save_to")} name={`flow.steps.${i}.save_to`} errors={shown}>
                        {(p) => <input {...p} value={s.save_to ?? ""} onInput={(e) => setStep(i, { save_to: (e.target as HTMLInputElement).value })} />}
                      </Field>
                    ) : null}
                    {s.type === "set_field" ? (
                      <>
                        <Field label={t("bots.step.field")} name={`flow.steps.${i}.field`} errors={shown}>
                          {(p) => <input {...p} value={s.field ?? ""} onInput={(e) => setStep(i, { field: (e.target as HTMLInputElement).value })} />}
                        </Field>
                        <Field label={t("bots.step.value")} name={`flow.steps.${i}.value`} errors={shown}>
                          {(p) => <input {...p} value={s.value ?? ""} onInput={(e) => setStep(i, { value: (e.target as HTMLInputElement).value })} />}
                        </Field>
                      </>
                    ) : null}
                    {s.type === "assign" ? (
                      <>
                        <Field label={t("bots.step.user_id")} name={`flow.steps.${i}.user_id`} errors={shown}>
                          {(p) => <input {...p} value={s.user_id ?? ""} onInput={(e) => setStep(i, { user_id: (e.target as HTMLInputElement).value })} />}
                        </Field>
                        <Field label={t("bots.step.team_id")} name={`flow.steps.${i}.team_id`} errors={shown}>
                          {(p) => <input {...p} value={s.team_id ?? ""} onInput={(e) => setStep(i, { team_id: (e.target as HTMLInputElement).value })} />}
                        </Field>
                      </>
                    ) : null}
                    {KEYS[s.type].includes("next") ? target(i, "next", "bots.step.next", s.next) : null}
                    {KEYS[s.type].includes("timeout_s") ? (
                      <>
                        <Field label={t("bots.step.timeout_s")} name={`flow.steps.${i}.timeout_s`} errors={shown}>
                          {(p) => (
                            <input {...p} type="number" min={0} value={String(s.timeout_s ?? 0)} onInput={(e) => setStep(i, { timeout_s: Number((e.target as HTMLInputElement).value) })} />
                          )}
                        </Field>
                        {target(i, "timeout_next", "bots.step.timeout_next", s.timeout_next, s.type === "csat" ? "bots.none_next" : "bots.none_handoff")}
                      </>
                    ) : null}
                  </div>
                  {s.type === "ask" ? (
                    <fieldset class="checks">
                      <legend>{t("bots.step.choices")}</legend>
                      {shown[`flow.steps.${i}.choices`] ? (
                        <p class="field-error" role="alert" data-field={`flow.steps.${i}.choices`}>
                          {shown[`flow.steps.${i}.choices`]}
                        </p>
                      ) : null}
                      {(s.choices ?? []).map((c, j) => (
                        <div key={j} class="row">
                          <Field label={t("bots.choice.keywords", { n: j + 1 })} name={`flow.steps.${i}.choices.${j}.keywords`} errors={shown}>
                            {(p) => (
                              <input
                                {...p}
                                value={c.keywords.join(", ")}
                                onInput={(e) => {
                                  const keywords = (e.target as HTMLInputElement).value.split(",").map((k) => k.trim()).filter(Boolean);
                                  setStep(i, { choices: (s.choices ?? []).map((x, k) => (k === j ? { ...x, keywords } : x)) });
                                }}
                              />
                            )}
                          </Field>
                          <Field label={t("bots.step.next")} name={`flow.steps.${i}.choices.${j}.next`} errors={shown}>
                            {(p) => (
                              <select
                                {...p}
                                value={c.next}
                                onChange={(e) =>
                                  setStep(i, { choices: (s.choices ?? []).map((x, k) => (k === j ? { ...x, next: (e.target as HTMLSelectElement).value } : x)) })
                                }
                              >
                                {[...new Set([...ids, c.next])].map((sid) => (
                                  <option key={sid} value={sid}>
                                    {sid}
                                  </option>
                                ))}
                              </select>
                            )}
                          </Field>
                          <button type="button" class="small" onClick={() => setStep(i, { choices: (s.choices ?? []).filter((_, k) => k !== j) })}>
                            {t("bots.remove")}
                          </button>
                        </div>
                      ))}
                      <button type="button" class="small" onClick={() => setStep(i, { choices: [...(s.choices ?? []), { keywords: [], next: ids[0] ?? "" }] })}>
                        {t("bots.addchoice")}
                      </button>
                    </fieldset>
                  ) : null}
                  <div class="row">
                    <button type="button" class="small" disabled={i === 0} onClick={() => set({ steps: move(draft.steps, i, i - 1) })}>
                      {t("bots.up")}
                    </button>
                    <button type="button" class="small" onClick={() => set({ steps: draft.steps.filter((_, j) => j !== i) })} aria-label={t("bots.removestep", { id: s.id })}>
                      {t("bots.remove")}
                    </button>
                  </div>
                </li>
              ))}
            </ol>
            <button type="button" onClick={() => set({ steps: [...draft.steps, { id: `step${draft.steps.length + 1}`, type: "send", text: "", next: null }] })}>
              {t("bots.addstep")}
            </button>
          </>
        )}
        <FormError errors={errors} known={["name", "kind", "webhook_url", "webhook_secret", "flow.steps"]} />
        <div class="row">
          <span class="success" role="status">
            {saved ? t("common.saved") : ""}
          </span>
          {!isNew ? (
            <button type="button" class="danger" onClick={() => void remove()}>
              {t("common.delete")}
            </button>
          ) : null}
          <button type="submit" class="primary">
            {t("common.save")}
          </button>
        </div>
        {errorFor(shown, "flow") && !Object.keys(shown).some((k) => k.startsWith("flow.steps.")) ? <p class="field-error">{errorFor(shown, "flow")}</p> : null}
      </form>
    </section>
  );
}

function move<T>(list: T[], from: number, to: number): T[] {
  const out = [...list];
  const [x] = out.splice(from, 1);
  out.splice(to, 0, x as T);
  return out;
}

/** The bot runs of a conversation (the inbox's thread shows them under the messages). */
export function BotRuns({ conversationId, refreshKey }: { conversationId: string; refreshKey: number }) {
  const [runs, setRuns] = useState<BotRun[]>([]);
  useEffect(() => {
    void get<{ items: BotRun[] }>(`/v1/conversations/${encodeURIComponent(conversationId)}/bot-runs`).then(
      (p) => setRuns(p.items),
      () => setRuns([]),
    );
  }, [conversationId, refreshKey]);
  if (!runs.length) return null;
  return (
    <details class="bot-runs" data-testid="bot-runs">
      <summary>{t("bots.runs", { n: runs.length })}</summary>
      <ul>
        {runs.map((r) => (
          <li key={r.id} data-status={r.status}>
            {t(`bots.trigger.${r.trigger}` as Key)} · {t(`bots.status.${r.status}` as Key)}
            {r.outcome ? ` (${r.outcome})` : ""} · <time dateTime={r.started_at}>{dateTime(r.started_at)}</time>
            {r.csat !== null ? ` · CSAT ${r.csat}/5` : ""}
          </li>
        ))}
      </ul>
    </details>
  );
}
