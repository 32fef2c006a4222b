use crate::api::session::Login;
use crate::components::notice::action_error;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Sign-in. Works without JavaScript: the form posts to the server function, which
/// redirects to the page the visitor first asked for.
#[component]
pub fn LoginPage() -> impl IntoView {
    let next = use_query_map()
        .get_untracked()
        .get("next")
        .unwrap_or_default();
    view! {
        <Title text="Sign in"/>
        <main class="login-page">
            <section class="login-card">
                <h1>"Back office"</h1>
                <p class="muted">"Sign in with your back-office account."</p>
                <LoginForm next/>
            </section>
        </main>
    }
}

/// The sign-in form: with JavaScript it says why a sign-in failed without leaving the page.
#[island]
fn LoginForm(next: String) -> impl IntoView {
    let login = ServerAction::<Login>::new();
    view! {
        <ActionForm action=login>
            <input type="hidden" name="next" value=next/>
            <label for="email">"Email"</label>
            <input id="email" type="email" name="email" autocomplete="username" required autofocus/>
            <label for="password">"Password"</label>
            <input id="password" type="password" name="password" autocomplete="current-password" required/>
            {action_error(move || login.value().get())}
            <button type="submit" class="btn btn-primary" disabled=move || login.pending().get()>
                {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
            </button>
        </ActionForm>
    }
}
