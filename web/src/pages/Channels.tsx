import { useEffect, useState } from "preact/hooks";
import { api, get, post, WEEKDAYS, type BusinessHours, type Channel, type Page, type QueueSettings, type Team, type TimeRange, type Weekday } from "../api";
import type { Bot, ChannelAutomations } from "../api";
import { CopyButton, DateListField, errorFor, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { lang, t, type Key } from "../i18n";
import { navigate } from "../router";
import { QuietHoursEditor } from "./QuietHours";

const PROVIDERS = ["sandbox", "aws_sms", "twilio"] as const;
type Provider = (typeof PROVIDERS)[number];
/** Non-secret settings and secret keys each provider takes (connectors/settings.py). */
const SETTINGS: Record<Provider, string[]> = {
  sandbox: [],
  aws_sms: ["origination_identity", "configuration_set"],
  twilio: ["account_sid", "messaging_service_sid"],
};
const SECRETS: Record<Provider, string[]> = { sandbox: [], aws_sms: [], twilio: ["auth_token"] };
/** Settings chosen from a list (the first choice is the API's default). The sandbox's `receipts`:
 * "final" posts only each part's final receipt, "all" posts `sent` first. */
const CHOICES: Record<Provider, Record<string, { label: Key; hint: Key; options: Record<string, Key> }>> = {
  sandbox: {
    receipts: {
      label: "channels.receipts",
      hint: "channels.receiptshint",
      options: { final: "channels.receipts_final", all: "channels.receipts_all" },
    },
  },
  aws_sms: {},
  twilio: {},
};

export function Channels() {
  const [items, setItems] = useState<Channel[] | null>(null);
  const [creating, setCreating] = useState(false);
  const load = () => get<Page<Channel>>("/v1/channels?limit=100").then((p) => setItems(p.items));
  useEffect(() => void load(), []);
  const toggle = async (c: Channel) => {
    await api("PATCH", `/v1/channels/${encodeURIComponent(c.id)}`, { enabled: !c.enabled });
    await load();
  };
  return (
    <section class="card wide" aria-labelledby="channels-title">
      <div class="row">
        <h1 id="channels-title">{t("nav.channels")}</h1>
        <button type="button" class="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          {t("channels.new")}
        </button>
      </div>
      {creating ? (
        <CreateChannel
          onCreated={(c) => {
            setCreating(false);
            navigate(`/admin/channels/${encodeURIComponent(c.id)}`);
          }}
        />
      ) : null}
      {items?.length === 0 ? <p class="muted">{t("channels.none")}</p> : null}
      {items?.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("channels.name")}</th>
              <th scope="col">{t("channels.type")}</th>
              <th scope="col">{t("channels.sender")}</th>
              <th scope="col">{t("channels.provider")}</th>
              <th scope="col">{t("channels.enabled")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id} data-channel={c.name}>
                <td>
                  <a href={`/admin/channels/${encodeURIComponent(c.id)}`}>{c.name}</a>
                </td>
                <td>{t(`channel.${c.type}` as Key)}</td>
                <td>{c.sender}</td>
                <td>{c.provider}</td>
                <td>
                  <button type="button" role="switch" aria-checked={c.enabled} aria-label={t("channels.enabledfor", { name: c.name })} onClick={() => void toggle(c)}>
                    {c.enabled ? t("common.on") : t("common.off")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function CreateChannel({ onCreated }: { onCreated: (c: Channel) => void }) {
  const [name, setName] = useState("");
  const [type, setType] = useState<"two_way" | "one_way">("two_way");
  const [sender, setSender] = useState("");
  const [provider, setProvider] = useState<Provider>("sandbox");
  const [settings, setSettings] = useState<Record<string, string>>({});
  const [secret, setSecret] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    const keys = [...SETTINGS[provider], ...Object.keys(CHOICES[provider])];
    const ps = Object.fromEntries(keys.filter((k) => settings[k]).map((k) => [k, settings[k]]));
    const sec = Object.fromEntries(SECRETS[provider].filter((k) => secret[k]).map((k) => [k, secret[k]]));
    try {
      const c = await post<Channel>("/v1/channels", {
        name,
        type,
        sender,
        provider,
        provider_settings: ps,
        ...(Object.keys(sec).length ? { provider_secret: sec } : {}),
      });
      onCreated(c);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const known = ["name", "type", "sender", "provider", ...[...SETTINGS[provider], ...Object.keys(CHOICES[provider])].map((k) => `provider_settings.${k}`), ...SECRETS[provider].map((k) => `provider_secret.${k}`), "provider_settings", "provider_secret"];
  return (
    <form class="subcard" onSubmit={(e) => void submit(e)} aria-label={t("channels.new")}>
      <div class="grid2">
        <Field label={t("channels.name")} name="name" errors={errors}>
          {(p) => <input {...p} required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
        </Field>
        <Field label={t("channels.type")} name="type" errors={errors}>
          {(p) => (
            <select {...p} value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as "one_way" | "two_way")}>
              <option value="two_way">{t("channel.two_way")}</option>
              <option value="one_way">{t("channel.one_way")}</option>
            </select>
          )}
        </Field>
        <Field label={t("channels.sender")} name="sender" errors={errors} hint={type === "two_way" ? t("channels.senderhint2") : t("channels.senderhint1")}>
          {(p) => <input {...p} required value={sender} onInput={(e) => setSender((e.target as HTMLInputElement).value)} />}
        </Field>
        <Field label={t("channels.provider")} name="provider" errors={errors}>
          {(p) => (
            <select {...p} value={provider} onChange={(e) => setProvider((e.target as HTMLSelectElement).value as Provider)}>
              {PROVIDERS.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          )}
        </Field>
        {SETTINGS[provider].map((k) => (
          <Field key={k} label={k} name={`provider_settings.${k}`} errors={errors}>
            {(p) => <input {...p} value={settings[k] ?? ""} onInput={(e) => setSettings({ ...settings, [k]: (e.target as HTMLInputElement).value })} />}
          </Field>
        ))}
        {Object.entries(CHOICES[provider]).map(([k, choice]) => (
          <Field key={k} label={t(choice.label)} name={`provider_settings.${k}`} errors={errors} hint={t(choice.hint)}>
            {(p) => (
              <select {...p} value={settings[k] ?? Object.keys(choice.options)[0]} onChange={(e) => setSettings({ ...settings, [k]: (e.target as HTMLSelectElement).value })}>
                {Object.entries(choice.options).map(([value, label]) => (
                  <option key={value} value={value}>
                    {t(label)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        ))}
        {SECRETS[provider].map((k) => (
          <Field key={k} label={`${k} (${t("channels.secret")})`} name={`provider_secret.${k}`} errors={errors}>
            {(p) => <input {...p} type="password" autoComplete="off" value={secret[k] ?? ""} onInput={(e) => setSecret({ ...secret, [k]: (e.target as HTMLInputElement).value })} />}
          </Field>
        ))}
      </div>
      <FormError errors={errors} known={known} />
      <button type="submit" class="primary">
        {t("channels.create")}
      </button>
    </form>
  );
}

const QUEUE_NUMBERS: (keyof QueueSettings)[] = ["service_level_s", "max_in_queue", "max_queue_time_s", "max_transfer_s", "reopen_window_h"];

export function ChannelDetail({ id }: { id: string }) {
  const [c, setC] = useState<Channel | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const load = async () => setC(await get<Channel>(`/v1/channels/${encodeURIComponent(id)}`));
  useEffect(() => void load().catch((e: unknown) => setErrors(errorsOf(e))), [id]);
  if (!c) return <FormError errors={errors} known={[]} />;
  const patch = async (body: Record<string, unknown>) => setC(await api<Channel>("PATCH", `/v1/channels/${encodeURIComponent(id)}`, body));
  return (
    <section class="card wide" aria-labelledby="channel-title">
      <p class="row">
        <a href="/admin/channels">← {t("nav.channels")}</a>
        {c.type === "two_way" ? <a href={`/dashboard?channel=${encodeURIComponent(c.id)}`}>{t("nav.dashboard")} →</a> : null}
      </p>
      <h1 id="channel-title">{c.name}</h1>
      <dl class="facts">
        <dt>{t("channels.type")}</dt>
        <dd>{t(`channel.${c.type}` as Key)}</dd>
        <dt>{t("channels.sender")}</dt>
        <dd>{c.sender}</dd>
        <dt>{t("channels.provider")}</dt>
        <dd>
          {c.provider}
          {c.has_secret ? ` · ${t("channels.hassecret")}` : ""}
        </dd>
        <dt>{t("channels.enabled")}</dt>
        <dd>{c.enabled ? t("common.on") : t("common.off")}</dd>
      </dl>
      <h2>{t("channels.webhooks")}</h2>
      <ul class="webhooks">
        {Object.entries(c.webhook_urls).map(([k, url]) => (
          <li key={k}>
            <span class="muted">{k}</span> <code>{url}</code> <CopyButton text={url} />
          </li>
        ))}
      </ul>
      <QueueForm channel={c} onSave={(queue) => patch({ queue })} />
      <HoursForm channel={c} onSave={(business_hours) => patch({ business_hours })} />
      <QuietHoursEditor path={`/v1/channels/${encodeURIComponent(c.id)}/quiet-hours`} level="channel" />
      <GrantsForm channel={c} onSaved={setC} />
      <AutomationsForm channel={c as Channel & ChannelAutomations} onSave={(body) => patch({ ...body })} />
    </section>
  );
}

/** Submit state shared by the channel's forms: errors by field, "Saved." after success. */
function useSave(): [FieldErrors, boolean, (fn: () => Promise<unknown>) => Promise<void>] {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const run = async (fn: () => Promise<unknown>) => {
    setErrors({});
    setSaved(false);
    try {
      await fn();
      setSaved(true);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return [errors, saved, run];
}

function SaveRow({ saved }: { saved: boolean }) {
  return (
    <div class="row">
      <span class="success" role="status">
        {saved ? t("common.saved") : ""}
      </span>
      <button type="submit" class="primary">
        {t("common.save")}
      </button>
    </div>
  );
}

function QueueForm({ channel, onSave }: { channel: Channel; onSave: (q: QueueSettings) => Promise<void> }) {
  const [queue, setQueue] = useState<QueueSettings>(channel.queue);
  const [errors, saved, run] = useSave();
  const known = [...QUEUE_NUMBERS.map((k) => `queue.${k}`), "queue.strategy"];
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void run(() => onSave(queue));
      }}
      aria-labelledby="queue-title"
    >
      <h2 id="queue-title">{t("channels.queue")}</h2>
      <div class="grid2">
        <Field label={t("queue.strategy")} name="queue.strategy" errors={errors}>
          {(p) => (
            <select {...p} value={queue.strategy} onChange={(e) => setQueue({ ...queue, strategy: (e.target as HTMLSelectElement).value as QueueSettings["strategy"] })}>
              {(["manual", "round_robin", "least_busy", "longest_idle"] as const).map((s) => (
                <option key={s} value={s}>
                  {t(`queue.${s}` as Key)}
                </option>
              ))}
            </select>
          )}
        </Field>
        {QUEUE_NUMBERS.map((k) => (
          <Field key={k} label={t(`queue.${k}` as Key)} name={`queue.${k}`} errors={errors}>
            {(p) => (
              <input {...p} type="number" inputMode="numeric" value={String(queue[k])} onInput={(e) => setQueue({ ...queue, [k]: Number((e.target as HTMLInputElement).value) })} />
            )}
          </Field>
        ))}
      </div>
      <FormError errors={errors} known={known} />
      <SaveRow saved={saved} />
    </form>
  );
}

const hhmm = (s: string) => s.slice(0, 5);
/** Weekday names in the UI's language (2024-01-01 was a Monday). */
const dayName = (d: Weekday) =>
  new Intl.DateTimeFormat(lang.get(), { weekday: "long", timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + WEEKDAYS.indexOf(d))));
const timeZones = (): string[] => (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];

/** Business hours: on/off, timezone, per-weekday ranges, holidays and the out-of-hours reply. */
function HoursForm({ channel, onSave }: { channel: Channel; onSave: (bh: BusinessHours) => Promise<void> }) {
  const initial = channel.business_hours;
  const [bh, setBh] = useState<BusinessHours>({
    ...initial,
    weekly: Object.fromEntries(WEEKDAYS.map((d) => [d, (initial.weekly?.[d] ?? []).map((r) => ({ start: hhmm(r.start), end: hhmm(r.end) }))])),
    holidays: [...(initial.holidays ?? [])],
  });
  const [errors, saved, run] = useSave();
  const ranges = (d: Weekday): TimeRange[] => bh.weekly[d] ?? [];
  const setRanges = (d: Weekday, rs: TimeRange[]) => setBh({ ...bh, weekly: { ...bh.weekly, [d]: rs } });
  const submit = (e: Event) => {
    e.preventDefault();
    const weekly = Object.fromEntries(WEEKDAYS.filter((d) => ranges(d).length).map((d) => [d, ranges(d)]));
    void run(() => onSave({ ...bh, weekly, out_of_hours_message: bh.out_of_hours_message?.trim() ? bh.out_of_hours_message : null }));
  };
  const copyMonday = () => {
    const mon = ranges("mon");
    setBh({ ...bh, weekly: { ...bh.weekly, ...Object.fromEntries((["tue", "wed", "thu", "fri"] as Weekday[]).map((d) => [d, mon.map((r) => ({ ...r }))])) } });
  };
  const known = ["business_hours.enabled", "business_hours.timezone", "business_hours.weekly", "business_hours.holidays", "business_hours.out_of_hours_message"];
  return (
    <form onSubmit={submit} aria-labelledby="hours-title">
      <h2 id="hours-title">{t("hours.title")}</h2>
      <div class="grid2">
        <div class="field">
          <label class="check">
            <input type="checkbox" checked={bh.enabled} onChange={(e) => setBh({ ...bh, enabled: (e.target as HTMLInputElement).checked })} />
            {t("hours.enabled")}
          </label>
          <div class="hint">{t("hours.enabledhint")}</div>
        </div>
        <Field label={t("hours.timezone")} name="business_hours.timezone" errors={errors}>
          {(p) => (
            <>
              <input {...p} list="timezones" autoComplete="off" value={bh.timezone} onInput={(e) => setBh({ ...bh, timezone: (e.target as HTMLInputElement).value })} />
              <datalist id="timezones">
                {timeZones().map((z) => (
                  <option key={z} value={z} />
                ))}
              </datalist>
            </>
          )}
        </Field>
      </div>
      <div class="table-wrap">
        <table class="hours" data-testid="weekly">
          <caption class="sr-only">{t("hours.weekly")}</caption>
          <tbody>
            {WEEKDAYS.map((d) => {
              const err = errorFor(errors, `business_hours.weekly.${d}`);
              return (
                <tr key={d} data-day={d}>
                  <th scope="row">{dayName(d)}</th>
                  <td>
                    {ranges(d).length === 0 ? <span class="muted">{t("hours.closed")}</span> : null}
                    {ranges(d).map((r, i) => (
                      <span class="range" key={i}>
                        <input
                          type="time"
                          aria-label={t("hours.from", { day: dayName(d), n: i + 1 })}
                          aria-invalid={!!err}
                          value={r.start}
                          onInput={(e) => setRanges(d, ranges(d).map((x, j) => (j === i ? { ...x, start: (e.target as HTMLInputElement).value } : x)))}
                        />
                        –
                        <input
                          type="time"
                          aria-label={t("hours.until", { day: dayName(d), n: i + 1 })}
                          aria-invalid={!!err}
                          value={r.end}
                          onInput={(e) => setRanges(d, ranges(d).map((x, j) => (j === i ? { ...x, end: (e.target as HTMLInputElement).value } : x)))}
                        />
                        <button type="button" class="small" aria-label={t("hours.removerange", { day: dayName(d), n: i + 1 })} onClick={() => setRanges(d, ranges(d).filter((_, j) => j !== i))}>
                          ×
                        </button>
                      </span>
                    ))}
                    {err ? (
                      <div class="field-error" role="alert" data-field={`business_hours.weekly.${d}`}>
                        {err}
                      </div>
                    ) : null}
                  </td>
                  <td class="nowrap">
                    <button
                      type="button"
                      class="small"
                      aria-label={t("hours.addrange", { day: dayName(d) })}
                      onClick={() => {
                        const last = ranges(d).at(-1);
                        setRanges(d, [...ranges(d), last ? { start: last.end, end: last.end < "18:00" ? "18:00" : "23:59" } : { start: "09:00", end: "17:00" }]);
                      }}
                    >
                      + {t("hours.add")}
                    </button>
                    {d === "mon" ? (
                      <button type="button" class="small" onClick={copyMonday}>
                        {t("hours.copymonday")}
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <DateListField
        label={t("hours.holidays")}
        name="business_hours.holidays"
        hint={t("hours.holidayshint")}
        errors={errors}
        dates={bh.holidays}
        onChange={(holidays) => setBh({ ...bh, holidays })}
        addLabel={t("hours.addholiday")}
        removeLabel={(date) => t("hours.removeholiday", { date })}
        testId="holidays"
      />
      <Field label={t("channels.ooh")} name="business_hours.out_of_hours_message" errors={errors}>
        {(p) => <textarea {...p} rows={2} value={bh.out_of_hours_message ?? ""} onInput={(e) => setBh({ ...bh, out_of_hours_message: (e.target as HTMLTextAreaElement).value })} />}
      </Field>
      <FormError errors={errors} known={known} />
      <SaveRow saved={saved} />
    </form>
  );
}

/** The teams granted the channel (PUT /v1/channels/{id}/teams: the complete list). */
function GrantsForm({ channel, onSaved }: { channel: Channel; onSaved: (c: Channel) => void }) {
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set(channel.team_ids));
  const [errors, saved, run] = useSave();
  useEffect(() => {
    void get<Page<Team>>("/v1/teams?limit=100").then((p) => setTeams(p.items));
  }, []);
  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => onSaved(await api<Channel>("PUT", `/v1/channels/${encodeURIComponent(channel.id)}/teams`, { team_ids: [...chosen] })));
      }}
      aria-labelledby="grants-title"
    >
      <h2 id="grants-title">{t("grants.title")}</h2>
      <p class="muted">{t("grants.hint")}</p>
      {teams?.length === 0 ? (
        <p class="muted">
          {t("grants.noteams")} <a href="/admin/teams">{t("nav.teams")}</a>
        </p>
      ) : null}
      {teams?.length ? (
        <fieldset class="checks" aria-invalid={!!errorFor(errors, "team_ids")}>
          <legend class="sr-only">{t("grants.title")}</legend>
          {teams.map((team) => (
            <label key={team.id}>
              <input type="checkbox" checked={chosen.has(team.id)} onChange={() => toggle(team.id)} />
              {team.name}
            </label>
          ))}
        </fieldset>
      ) : null}
      {errorFor(errors, "team_ids") ? (
        <div class="field-error" role="alert" data-field="team_ids">
          {errorFor(errors, "team_ids")}
        </div>
      ) : null}
      <FormError errors={errors} known={["team_ids"]} />
      {teams?.length ? <SaveRow saved={saved} /> : null}
    </form>
  );
}

const AUTOMATIONS: (keyof ChannelAutomations)[] = ["bot_on_start", "bot_on_finish", "bot_after_timeout"];

/** The channel's automations (issue 15): which bot runs on start, on finish and after the queue timeout. */
function AutomationsForm({ channel, onSave }: { channel: Channel & ChannelAutomations; onSave: (a: ChannelAutomations) => Promise<void> }) {
  const [bots, setBots] = useState<Bot[] | null>(null);
  const [value, setValue] = useState<ChannelAutomations>({
    bot_on_start: channel.bot_on_start ?? null,
    bot_on_finish: channel.bot_on_finish ?? null,
    bot_after_timeout: channel.bot_after_timeout ?? null,
  });
  const [errors, saved, run] = useSave();
  useEffect(() => void get<Page<Bot>>("/v1/bots?limit=100").then((p) => setBots(p.items), () => setBots([])), []);
  if (bots === null) return null; // the form waits for the bots it offers
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void run(() => onSave(value));
      }}
      aria-labelledby="automations-title"
    >
      <h2 id="automations-title">{t("channels.automations")}</h2>
      <div class="grid2">
        {AUTOMATIONS.map((k) => (
          <Field key={k} label={t(`channels.${k}` as Key)} name={k} errors={errors}>
            {(p) => (
              <select {...p} value={value[k] ?? ""} onChange={(e) => setValue({ ...value, [k]: (e.target as HTMLSelectElement).value || null })}>
                <option value="">{t("channels.nobot")}</option>
                {bots.map((b) => (
                  <option key={b.id} value={b.id}>
                    {b.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        ))}
      </div>
      <FormError errors={errors} known={AUTOMATIONS} />
      <SaveRow saved={saved} />
    </form>
  );
}
