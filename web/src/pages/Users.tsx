import { useEffect, useState } from "preact/hooks";
import { api, get, post, type Me, type Page, type Role, type User } from "../api";
import { errorsOf, Field, FormError, type FieldErrors } from "../components";
import { t, type Key } from "../i18n";

export function Users({ me }: { me: Me | null }) {
  const [items, setItems] = useState<User[] | null>(null);
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("agent");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [created, setCreated] = useState<string | null>(null);
  const load = () => get<Page<User>>("/v1/users?limit=100").then((p) => setItems(p.items));
  useEffect(() => void load().catch((e: unknown) => setErrors(errorsOf(e))), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setCreated(null);
    try {
      await post("/v1/users", { email, name, role });
      setCreated(email);
      setEmail("");
      setName("");
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const roles: Role[] = me?.role === "owner" ? ["agent", "admin", "owner"] : ["agent", "admin"];
  return (
    <section class="card wide" aria-labelledby="users-title">
      <h1 id="users-title">{t("nav.users")}</h1>
      <form class="subcard" onSubmit={(e) => void submit(e)} aria-label={t("users.new")}>
        <div class="grid3">
          <Field label={t("signin.email")} name="email" errors={errors}>
            {(p) => <input {...p} type="email" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field label={t("users.name")} name="name" errors={errors}>
            {(p) => <input {...p} required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field label={t("users.role")} name="role" errors={errors}>
            {(p) => (
              <select {...p} value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}>
                {roles.map((r) => (
                  <option key={r} value={r}>
                    {t(`role.${r}` as Key)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <FormError errors={errors} known={["email", "name", "role"]} />
        <div class="row">
          {created ? (
            <span class="success" role="status">
              {t("users.invited", { email: created })}
            </span>
          ) : (
            <span />
          )}
          <button type="submit" class="primary">
            {t("users.new")}
          </button>
        </div>
      </form>
      {items ? (
        <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("users.name")}</th>
              <th scope="col">{t("signin.email")}</th>
              <th scope="col">{t("users.role")}</th>
              <th scope="col">{t("users.status")}</th>
              <th scope="col">{t("users.open")}</th>
              <th scope="col">{t("users.capacity")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((u) => (
              <tr key={u.user_id}>
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>
                  <RoleCell me={me} user={u} onSaved={(x) => setItems((xs) => xs?.map((y) => (y.user_id === x.user_id ? x : y)) ?? null)} />
                </td>
                <td>{u.available ? t("me.available") : t("me.away")}</td>
                <td class="num">{u.open_count}</td>
                <td>
                  <Capacity user={u} onSaved={(x) => setItems((xs) => xs?.map((y) => (y.user_id === x.user_id ? x : y)) ?? null)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      ) : null}
    </section>
  );
}

/** The roles `me` may give `user`, as the API decides them: admins manage agents only (so they change
 * no role), only the owner makes or changes admins and owners, and nobody changes their own role. */
export function roleChoices(me: Me | null, user: User): Role[] {
  if (!me || me.user_id === user.user_id) return [user.role];
  if (me.role === "owner") return ["agent", "admin", "owner"];
  return [user.role];
}

/** A user's role: a select (saved on change, `PATCH /v1/users/{id}`) when the caller may change it. */
function RoleCell({ me, user, onSaved }: { me: Me | null; user: User; onSaved: (u: User) => void }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const choices = roleChoices(me, user);
  if (choices.length < 2) return <span data-testid="role">{t(`role.${user.role}` as Key)}</span>;
  const change = async (select: HTMLSelectElement) => {
    const role = select.value as Role;
    setErrors({});
    setSaved(false);
    setBusy(true);
    try {
      onSaved(await api<User>("PATCH", `/v1/users/${encodeURIComponent(user.user_id)}`, { role }));
      setSaved(true);
    } catch (err) {
      select.value = user.role; // the role it still has
      setErrors(errorsOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="capacity">
      <Field label={t("users.roleof", { name: user.name })} name="role" errors={errors} hint={saved ? t("common.saved") : " "}>
        {(p) => (
          <select {...p} value={user.role} disabled={busy} onChange={(e) => void change(e.target as HTMLSelectElement)}>
            {choices.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}` as Key)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <FormError errors={errors} known={["role"]} />
    </div>
  );
}

/** A user's capacity (PATCH /v1/users/{id}): the most open conversations the queue gives them. */
function Capacity({ user, onSaved }: { user: User; onSaved: (u: User) => void }) {
  const [value, setValue] = useState(String(user.capacity));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setSaved(false);
    try {
      onSaved(await api<User>("PATCH", `/v1/users/${encodeURIComponent(user.user_id)}`, { capacity: value === "" ? null : Number(value) }));
      setSaved(true);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <form class="capacity" onSubmit={(e) => void save(e)} aria-label={t("users.capacityof", { name: user.name })}>
      <Field label={t("users.capacityof", { name: user.name })} name="capacity" errors={errors} hint={saved ? t("common.saved") : " "}>
        {(p) => (
          <input
            {...p}
            type="number"
            inputMode="numeric"
            min={0}
            max={1000}
            value={value}
            onInput={(e) => {
              setSaved(false);
              setValue((e.target as HTMLInputElement).value);
            }}
          />
        )}
      </Field>
      <button type="submit" class="small">
        {t("common.save")}
      </button>
      <FormError errors={errors} known={["capacity"]} />
    </form>
  );
}
