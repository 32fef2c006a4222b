use leptos::prelude::*;
use leptos_meta::Title;

/// The page of an address that leads nowhere (404), inside the application's frame.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <h1>"Page not found"</h1>
        <p>"There is no page at this address. " <a href="/clients">"Go to Clients"</a></p>
    }
}
