use crate::api::users::{ChangeUserRole, CreateUser, ResetUserPassword, SetUserActive, list_users};
use crate::components::notice::{ErrorNotice, action_error};
use crate::model::{NewUserPassword, Role, UserView};
use leptos::prelude::*;
use leptos_meta::Title;

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".to_owned())
}

/// A password shown once, right after the server generated it.
#[component]
fn OneTimePassword(shown: NewUserPassword) -> impl IntoView {
    view! {
        <div class="notice notice-success" role="status" data-testid="one-time-password">
            "Password for " <strong>{shown.email}</strong> ": "
            <code class="secret">{shown.password}</code>
            <span class="muted">" It is shown only once: hand it over now."</span>
        </div>
    }
}

/// Admin → Users: every back-office user, and the forms that manage them.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let change_role = ServerAction::<ChangeUserRole>::new();
    let set_active = ServerAction::<SetUserActive>::new();
    let reset = ServerAction::<ResetUserPassword>::new();
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                change_role.version().get(),
                set_active.version().get(),
                reset.version().get(),
            )
        },
        |_| list_users(),
    );

    let shown_password = move || {
        let created = create
            .value()
            .get()
            .and_then(|r| r.ok())
            .and_then(|(_, p)| p);
        let reset = reset.value().get().and_then(|r| r.ok());
        created
            .or(reset)
            .map(|shown| view! { <OneTimePassword shown/> })
    };

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
                    Ok(list) => view! {
                        {shown_password}
                        {action_error(move || change_role.value().get())}
                        {action_error(move || set_active.value().get())}
                        {action_error(move || reset.value().get())}
                        <UserTable list change_role set_active reset/>
                        <CreateUserForm create/>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserTable(
    list: Vec<UserView>,
    change_role: ServerAction<ChangeUserRole>,
    set_active: ServerAction<SetUserActive>,
    reset: ServerAction<ResetUserPassword>,
) -> impl IntoView {
    view! {
        <table class="data-table" data-testid="users-table">
            <thead>
                <tr>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
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
                        let role_label = format!("Role of {}", u.email);
                        view! {
                            <tr data-email=u.email.clone()>
                                <td>{u.email.clone()}</td>
                                <td>
                                    <ActionForm action=change_role attr:class="inline">
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
                                    </ActionForm>
                                </td>
                                <td>
                                    {if u.active {
                                        view! { <span class="status status-ok">"Active"</span> }.into_any()
                                    } else {
                                        view! { <span class="status status-off">"Disabled"</span> }.into_any()
                                    }}
                                </td>
                                <td>{when(u.last_login_at)}</td>
                                <td>{when(Some(u.created_at))}</td>
                                <td class="actions">
                                    <ActionForm action=set_active attr:class="inline">
                                        <input type="hidden" name="id" value=id/>
                                        <input type="hidden" name="active" value=(!u.active).to_string()/>
                                        <button type="submit" class="btn btn-small">
                                            {if u.active { "Disable" } else { "Enable" }}
                                        </button>
                                    </ActionForm>
                                    <ActionForm action=reset attr:class="inline">
                                        <input type="hidden" name="id" value=id/>
                                        <button type="submit" class="btn btn-small">"Reset password"</button>
                                    </ActionForm>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn CreateUserForm(create: ServerAction<CreateUser>) -> impl IntoView {
    let form = NodeRef::<leptos::html::Form>::new();
    // Clear the form once the user exists, so the next one starts from empty fields.
    Effect::new(move || {
        if matches!(create.value().get(), Some(Ok(_)))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <section class="panel">
            <h2>"Add a user"</h2>
            <ActionForm action=create node_ref=form attr:class="form-grid">
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
            </ActionForm>
            {action_error(move || create.value().get())}
        </section>
    }
}
