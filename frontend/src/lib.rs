//! The browser entry point: hydrates the islands of the server-rendered page (the rest of
//! the page is not hydrated at all).

// Leptos views nest deeply in their types.
#![recursion_limit = "256"]

// The islands are exported by `app`; nothing here names them, so the crate is linked
// explicitly.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message in the console, in debug builds (the tests); the release bundle
    // leaves the hook and its formatting code out (SPEC §9's size).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    app::components::layout::focus_heading();
}
