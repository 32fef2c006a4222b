use super::section::SectionPage;
use leptos::prelude::*;

#[component]
pub fn ClientsPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Clients"
            intro="Everyone who holds an account with the broker."
            count=|c| c.client_count
            noun="clients"
            empty="No clients yet. Clients arrive through an import of a client file."
        />
    }
}
