import { useEffect, useState } from "preact/hooks";
import { get, post, type LedgerEntry, type Page } from "../api";
import { errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, num, t, type Key } from "../i18n";

export function Credits() {
  const [balance, setBalance] = useState<number | null>(null);
  const [ledger, setLedger] = useState<LedgerEntry[]>([]);
  const [credits, setCredits] = useState("");
  const [reference, setReference] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const load = async () => {
    const page = await get<Page<LedgerEntry> & { balance: number }>("/v1/credits/ledger?limit=50");
    setLedger(page.items);
    setBalance(page.balance);
  };
  useEffect(() => void load().catch((e: unknown) => setErrors(errorsOf(e))), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    const n = Number(credits);
    if (!Number.isInteger(n) || n < 1) {
      setErrors({ credits: t("credits.whole") });
      return;
    }
    try {
      await post("/v1/credits/top-ups", { credits: n, reference });
      setCredits("");
      setReference("");
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <section class="card wide" aria-labelledby="credits-title">
      <h1 id="credits-title">{t("nav.credits")}</h1>
      <p class="balance">
        {t("credits.balance")}: <strong data-testid="balance">{balance === null ? "…" : num(balance)}</strong>
      </p>
      <form class="subcard" onSubmit={(e) => void submit(e)} aria-label={t("credits.topup")}>
        <div class="grid2">
          <Field label={t("credits.amount")} name="credits" errors={errors}>
            {(p) => <input {...p} type="number" min={1} step={1} inputMode="numeric" required value={credits} onInput={(e) => setCredits((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field label={t("credits.reference")} name="reference" errors={errors}>
            {(p) => <input {...p} required value={reference} onInput={(e) => setReference((e.target as HTMLInputElement).value)} />}
          </Field>
        </div>
        <FormError errors={errors} known={["credits", "reference"]} />
        <button type="submit" class="primary">
          {t("credits.topup")}
        </button>
      </form>
      <h2>{t("credits.ledger")}</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">{t("sent.when")}</th>
            <th scope="col">{t("credits.kind")}</th>
            <th scope="col">{t("credits.amount")}</th>
            <th scope="col">{t("credits.reference")}</th>
          </tr>
        </thead>
        <tbody>
          {ledger.map((l) => (
            <tr key={l.id}>
              <td>{dateTime(l.at)}</td>
              <td>{t(`ledger.${l.kind}` as Key)}</td>
              <td class="num">{(l.amount > 0 ? "+" : "") + num(l.amount)}</td>
              <td>{l.reference ?? l.reason ?? l.message_id ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
