import { useEffect, useState } from "preact/hooks";
import { api, get, post, type Channel, type Page, type Team, type User } from "../api";
import { Dialog, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { t } from "../i18n";

/** Teams (admin): create, set members. Channels are granted to teams on each channel's page
 * (PUT /v1/channels/{id}/teams); this list shows the grants. */
export function Teams() {
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [users, setUsers] = useState<User[]>([]);
  const [channels, setChannels] = useState<Channel[]>([]);
  const [name, setName] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [editing, setEditing] = useState<Team | null>(null);
  // The list has no members or channels: each team's own GET has them.
  const load = async () => {
    const page = await get<Page<Team>>("/v1/teams?limit=100");
    setTeams(await Promise.all(page.items.map((x) => get<Team>(`/v1/teams/${encodeURIComponent(x.id)}`))));
  };
  useEffect(() => {
    void load().catch((e: unknown) => setErrors(errorsOf(e)));
    void get<Page<User>>("/v1/users?limit=100").then((p) => setUsers(p.items));
    void get<Page<Channel>>("/v1/channels?limit=100").then((p) => setChannels(p.items));
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await post("/v1/teams", { name });
      setName("");
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const userName = (id: string) => users.find((u) => u.user_id === id)?.name ?? id;
  const channelName = (id: string) => channels.find((c) => c.id === id)?.name ?? id;
  return (
    <section class="card wide" aria-labelledby="teams-title">
      <h1 id="teams-title">{t("nav.teams")}</h1>
      <p class="muted">{t("teams.intro")}</p>
      <form class="subcard inline-form" onSubmit={(e) => void create(e)} aria-label={t("teams.new")}>
        <Field label={t("teams.name")} name="name" errors={errors}>
          {(p) => <input {...p} required maxLength={80} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
        </Field>
        <button type="submit" class="primary">
          {t("teams.create")}
        </button>
      </form>
      <FormError errors={errors} known={["name"]} />
      {teams?.length === 0 ? <p class="muted">{t("teams.none")}</p> : null}
      {teams?.length ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("teams.name")}</th>
                <th scope="col">{t("teams.members")}</th>
                <th scope="col">{t("teams.channels")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {teams.map((team) => (
                <tr key={team.id} data-team={team.name}>
                  <td>{team.name}</td>
                  <td data-testid="team-members">{team.member_ids.map(userName).join(", ") || "–"}</td>
                  <td data-testid="team-channels">
                    {team.channel_ids.length
                      ? team.channel_ids.map((id, i) => (
                          <span key={id}>
                            {i ? ", " : ""}
                            <a href={`/admin/channels/${encodeURIComponent(id)}`}>{channelName(id)}</a>
                          </span>
                        ))
                      : "–"}
                  </td>
                  <td>
                    <button type="button" class="small" onClick={() => setEditing(team)} aria-label={t("teams.editmembers", { name: team.name })}>
                      {t("teams.members")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {editing ? (
        <Members
          team={editing}
          users={users}
          onClose={() => setEditing(null)}
          onSaved={async () => {
            setEditing(null);
            await load();
          }}
        />
      ) : null}
    </section>
  );
}

function Members({ team, users, onClose, onSaved }: { team: Team; users: User[]; onClose: () => void; onSaved: () => Promise<void> }) {
  const [chosen, setChosen] = useState<Set<string>>(new Set(team.member_ids));
  const [errors, setErrors] = useState<FieldErrors>({});
  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await api("PUT", `/v1/teams/${encodeURIComponent(team.id)}/members`, { user_ids: [...chosen] });
      await onSaved();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <Dialog title={t("teams.membersof", { name: team.name })} onClose={onClose}>
      <form onSubmit={(e) => void save(e)}>
        <fieldset class="checks">
          <legend class="sr-only">{t("teams.members")}</legend>
          {users.map((u) => (
            <label key={u.user_id}>
              <input type="checkbox" checked={chosen.has(u.user_id)} onChange={() => toggle(u.user_id)} />
              {u.name} <span class="muted">{u.email}</span>
            </label>
          ))}
        </fieldset>
        <FormError errors={errors} known={[]} />
        <div class="row">
          <button type="button" onClick={onClose}>
            {t("common.cancel")}
          </button>
          <button type="submit" class="primary">
            {t("common.save")}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
