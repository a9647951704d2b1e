/** Quiet hours for marketing (issue 14 item 6): the account's default (`/admin/quiet-hours`), a channel's
 * override (in the channel's settings) and the line the campaign composer shows (the rule that applies).
 * The API: `GET/PUT/DELETE /v1/quiet-hours` and `/v1/channels/{id}/quiet-hours`. */
import { useEffect, useState } from "preact/hooks";
import { api, get } from "../api";
import { DateListField, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { plural, t, type Key } from "../i18n";

export interface QuietHours {
  start: string;
  end: string;
  sundays: boolean;
  public_holidays: boolean;
  holidays: string[];
}
export interface QuietHoursSetting {
  quiet_hours: QuietHours | null;
  effective: QuietHours;
  source: "campaign" | "channel" | "account" | "default";
}

const hhmm = (s: string) => s.slice(0, 5);

/** "Marketing is delivered 08:00–20:00 …, not on Sundays, not on public holidays (built-in rule)". */
export function describeQuietHours(s: QuietHoursSetting): string {
  const q = s.effective;
  const parts = [t("quiet.applies", { start: hhmm(q.start), end: hhmm(q.end) })];
  if (!q.sundays) parts.push(t("quiet.nosundays"));
  if (q.public_holidays) parts.push(t("quiet.noholidays"));
  if (q.holidays.length) parts.push(plural("quiet.nextra", q.holidays.length));
  return `${parts.join(", ")} (${t(`quiet.from.${s.source}` as Key)})`;
}

/** The account's page: the default every channel without its own rule uses. */
export function QuietHoursPage() {
  return (
    <section class="page" aria-labelledby="quiet-page-title">
      <h1 id="quiet-page-title">{t("quiet.title")}</h1>
      <p class="muted">{t("quiet.intro")}</p>
      <QuietHoursEditor path="/v1/quiet-hours" level="account" />
    </section>
  );
}

/** Loads the level's setting, then (only then) shows its form. */
export function QuietHoursEditor({ path, level }: { path: string; level: "account" | "channel" }) {
  const [setting, setSetting] = useState<QuietHoursSetting | null>(null);
  const [loadError, setLoadError] = useState<FieldErrors>({});
  const [generation, setGeneration] = useState(0);
  const load = async () => {
    try {
      setSetting(await get<QuietHoursSetting>(path));
      setGeneration((g) => g + 1);
    } catch (e) {
      setLoadError(errorsOf(e));
    }
  };
  useEffect(() => void load(), [path]);
  return (
    <div class="card stack" data-testid={`quiet-hours-${level}`}>
      {level === "channel" ? <h2 id="quiet-title">{t("quiet.title")}</h2> : null}
      {setting ? (
        <QuietHoursForm key={generation} path={path} level={level} setting={setting} onSaved={setSetting} onReset={load} />
      ) : Object.keys(loadError).length ? (
        <FormError errors={loadError} known={[]} />
      ) : (
        <p class="muted">{t("common.loading")}</p>
      )}
    </div>
  );
}

function QuietHoursForm({
  path,
  level,
  setting,
  onSaved,
  onReset,
}: {
  path: string;
  level: "account" | "channel";
  setting: QuietHoursSetting;
  onSaved: (s: QuietHoursSetting) => void;
  onReset: () => Promise<void>;
}) {
  const initial = setting.quiet_hours ?? setting.effective;
  const [q, setQ] = useState<QuietHours>({ ...initial, start: hhmm(initial.start), end: hhmm(initial.end), holidays: [...initial.holidays] });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const run = async (fn: () => Promise<void>) => {
    setErrors({});
    setSaved(false);
    try {
      await fn();
      setSaved(true);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => onSaved(await api<QuietHoursSetting>("PUT", path, q)));
  };
  const reset = () => void run(async () => {
    await api("DELETE", path);
    await onReset();
  });
  return (
    <form onSubmit={submit} aria-label={t("quiet.title")}>
      <p role="note" data-testid="quiet-source">
        {t(`quiet.source.${setting.source}` as Key)}
      </p>
      <div class="grid2">
        <Field label={t("quiet.start")} name="start" errors={errors}>
          {(p) => <input {...p} type="time" required value={q.start} onInput={(e) => setQ({ ...q, start: (e.target as HTMLInputElement).value })} />}
        </Field>
        <Field label={t("quiet.end")} name="end" errors={errors}>
          {(p) => <input {...p} type="time" required value={q.end} onInput={(e) => setQ({ ...q, end: (e.target as HTMLInputElement).value })} />}
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" name="sundays" checked={q.sundays} onChange={(e) => setQ({ ...q, sundays: (e.target as HTMLInputElement).checked })} />
        {t("quiet.sundays")}
      </label>
      <div class="field">
        <label class="check">
          <input
            type="checkbox"
            name="public_holidays"
            checked={q.public_holidays}
            onChange={(e) => setQ({ ...q, public_holidays: (e.target as HTMLInputElement).checked })}
          />
          {t("quiet.publicholidays")}
        </label>
        <div class="hint">{t("quiet.publicholidayshint")}</div>
      </div>
      <DateListField
        label={t("quiet.extra")}
        name="holidays"
        hint={t("quiet.extrahint")}
        errors={errors}
        dates={q.holidays}
        onChange={(holidays) => setQ({ ...q, holidays })}
        addLabel={t("quiet.adddate")}
        removeLabel={(date) => t("quiet.removedate", { date })}
        testId="quiet-dates"
      />
      <FormError errors={errors} known={["start", "end", "holidays"]} />
      <div class="row">
        <span class="success" role="status">
          {saved ? t("common.saved") : ""}
        </span>
        {setting.quiet_hours ? (
          <button type="button" onClick={reset}>
            {t(level === "channel" ? "quiet.reset.channel" : "quiet.reset.account")}
          </button>
        ) : null}
        <button type="submit" class="primary">
          {t("common.save")}
        </button>
      </div>
    </form>
  );
}

/** The composer's line for marketing: the quiet hours the campaign's channel applies. */
export function QuietHoursSummary({ channelId }: { channelId: string }) {
  const [setting, setSetting] = useState<QuietHoursSetting | null>(null);
  useEffect(() => {
    setSetting(null);
    let live = true;
    void get<QuietHoursSetting>(`/v1/channels/${encodeURIComponent(channelId)}/quiet-hours`).then(
      (s) => live && setSetting(s),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [channelId]);
  return setting ? (
    <p class="hint" data-testid="quiet-summary">
      {describeQuietHours(setting)}
    </p>
  ) : null;
}
