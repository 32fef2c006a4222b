use crate::api::admin::list_projects;
use crate::api::users::{
    ChangeUserRole, CreateUser, ResetUserPassword, SetUserActive, SetUserScope, list_users,
};
use crate::components::forms::form_island;
use crate::components::notice::{Flash, PageError};
use crate::model::{ProjectRecord, Role, UserView};
use leptos::prelude::*;
use leptos_meta::Title;

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".to_owned())
}

/// Admin → Users: every back-office user, and the forms that manage them.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let users = Resource::new(
        || (),
        |_| async move {
            Ok::<_, crate::model::AppError>((list_users().await?, list_projects().await?))
        },
    );
    view! {
        <Title text="Admin · Users"/>
        <div class="page-head">
            <h1>"Users"</h1>
            <p class="muted">"Back-office staff and what each may do."</p>
        </div>
        <super::admin::AdminNav/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok((list, projects)) => view! {
                        <UserTable list projects/>
                        <section class="panel">
                            <h2>"Add a user"</h2>
                            <CreateUserForm>
                                <label for="new-email">"Email"</label>
                                <input id="new-email" type="email" name="email" required/>
                                <label for="new-role">"Role"</label>
                                <select id="new-role" name="role">
                                    {Role::ALL
                                        .into_iter()
                                        .map(|r| view! { <option value=r.as_str()>{r.label()}</option> })
                                        .collect_view()}
                                </select>
                                <label for="new-password">"Password"</label>
                                <input id="new-password" type="password" name="password" autocomplete="new-password"
                                    placeholder="Leave empty to generate one"/>
                                <div class="form-actions">
                                    <button type="submit" class="btn btn-primary">"Create user"</button>
                                </div>
                            </CreateUserForm>
                        </section>
                    }
                    .into_any(),
                    Err(error) => view! { <PageError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

form_island!(
    /// A new user; a generated password is shown once on the reloaded page.
    CreateUserForm, CreateUser, "form-grid",
    |(_, password): &(UserView, Option<crate::model::NewUserPassword>)| password.clone().map(Flash::Password)
);
form_island!(
    /// A user's new role.
    RoleForm, ChangeUserRole, "inline"
);
form_island!(
    /// Disables or enables a user.
    ActiveForm, SetUserActive, "inline"
);
form_island!(
    /// A new generated password for a user, shown once on the reloaded page.
    ResetForm, ResetUserPassword, "inline",
    |shown: &crate::model::NewUserPassword| Some(Flash::Password(shown.clone()))
);
form_island!(
    /// The desks a user works with.
    ScopeForm, SetUserScope, "scope-form"
);

/// What a user's places (`p:ID`, `d:ID`) are called: "Project" or "Project / Desk".
fn place_names(scope: &[String], projects: &[ProjectRecord]) -> Vec<String> {
    scope
        .iter()
        .map(|key| {
            let found = projects.iter().find_map(|p| {
                if *key == format!("p:{}", p.id) {
                    return Some(format!("{} (all desks)", p.name));
                }
                p.desks
                    .iter()
                    .find(|d| *key == format!("d:{}", d.id))
                    .map(|d| format!("{} / {}", p.name, d.name))
            });
            found.unwrap_or_else(|| key.clone())
        })
        .collect()
}

/// The desks a user works with, and the form that limits them.
#[component]
fn UserDesks(user: UserView, projects: Vec<ProjectRecord>) -> impl IntoView {
    if user.role == Role::Admin {
        return view! { <span class="muted">"Every desk (admin)"</span> }.into_any();
    }
    let names = place_names(&user.scope, &projects);
    let shown = if names.is_empty() {
        "Every desk".to_owned()
    } else {
        names.join(", ")
    };
    let mut index = 0usize;
    let mut next_name = move || {
        index += 1;
        format!("places[{index}]")
    };
    let boxes = projects
        .iter()
        .map(|p| {
            let key = format!("p:{}", p.id);
            let whole = view! {
                <label class="check">
                    <input type="checkbox" name=next_name() value=key.clone() checked=user.scope.contains(&key)/>
                    {format!("{} (all desks)", p.name)}
                </label>
            };
            let desks = p
                .desks
                .iter()
                .map(|d| {
                    let key = format!("d:{}", d.id);
                    view! {
                        <label class="check indent">
                            <input type="checkbox" name=next_name() value=key.clone() checked=user.scope.contains(&key)/>
                            {format!("{} / {}", p.name, d.name)}
                        </label>
                    }
                })
                .collect_view();
            view! { {whole} {desks} }
        })
        .collect::<Vec<_>>();
    let legend = format!("Desks {} works with", user.email);
    view! {
        <span data-testid="user-desks">{shown}</span>
        <details class="scope-edit">
            <summary class="btn btn-small">"Limit desks…"</summary>
            <ScopeForm>
                <input type="hidden" name="id" value=user.id/>
                <fieldset>
                    <legend>{legend}</legend>
                    {boxes}
                </fieldset>
                <p class="muted">"With nothing ticked, the user works with every desk."</p>
                <button type="submit" class="btn btn-small">"Save desks"</button>
            </ScopeForm>
        </details>
    }
    .into_any()
}

#[component]
fn UserTable(list: Vec<UserView>, projects: Vec<ProjectRecord>) -> impl IntoView {
    view! {
        <div class="table-wrap"><table class="data-table" data-testid="users-table">
            <thead>
                <tr>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Desks"</th>
                    <th scope="col">"Last sign-in"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|u| {
                        let id = u.id;
                        let desks = view! { <UserDesks user=u.clone() projects=projects.clone()/> };
                        let role_label = format!("Role of {}", u.email);
                        view! {
                            <tr data-email=u.email.clone()>
                                <td>{u.email.clone()}</td>
                                <td>
                                    <RoleForm>
                                        <input type="hidden" name="id" value=id/>
                                        <select name="role" aria-label=role_label>
                                            {Role::ALL
                                                .into_iter()
                                                .map(|r| view! {
                                                    <option value=r.as_str() selected=r == u.role>{r.label()}</option>
                                                })
                                                .collect_view()}
                                        </select>
                                        <button type="submit" class="btn btn-small">"Save role"</button>
                                    </RoleForm>
                                </td>
                                <td>
                                    {if u.active {
                                        view! { <span class="status status-ok">"Active"</span> }.into_any()
                                    } else {
                                        view! { <span class="status status-off">"Disabled"</span> }.into_any()
                                    }}
                                </td>
                                <td class="desks">{desks}</td>
                                <td>{when(u.last_login_at)}</td>
                                <td>{when(Some(u.created_at))}</td>
                                <td class="actions">
                                    <ActiveForm>
                                        <input type="hidden" name="id" value=id/>
                                        <input type="hidden" name="active" value=(!u.active).to_string()/>
                                        <button type="submit" class="btn btn-small">
                                            {if u.active { "Disable" } else { "Enable" }}
                                        </button>
                                    </ActiveForm>
                                    <ResetForm>
                                        <input type="hidden" name="id" value=id/>
                                        <button type="submit" class="btn btn-small">"Reset password"</button>
                                    </ResetForm>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table></div>
    }
}
