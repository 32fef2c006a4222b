use super::section::SectionPage;
use leptos::prelude::*;

#[component]
pub fn ImportsPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Import Data"
            intro="Every import of clients, accounts and IB partners, with its status."
            count=|c| c.import_count
            noun="imports"
            empty="No imports yet."
        />
    }
}
