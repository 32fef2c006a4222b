//! Live import status in the browser: one event stream per page, opened once the page is
//! interactive. Without JavaScript nothing is opened and pages show the state they were
//! rendered with.

use crate::model::JobRecord;
use leptos::prelude::*;

/// The latest job change pushed by the server, and how many events have arrived (a page
/// that shows several jobs reloads its list when the count moves). `resyncs` moves when the
/// stream (re)connects: what changed while it was not connected is unknown, so pages reload.
#[derive(Clone, Copy)]
pub struct LiveJobs {
    pub last: ReadSignal<Option<JobRecord>>,
    pub count: ReadSignal<u64>,
    pub resyncs: ReadSignal<u64>,
}

impl LiveJobs {
    /// The live feed of the surrounding layout; a page outside it gets one that never moves.
    pub fn get() -> LiveJobs {
        use_context::<LiveJobs>().unwrap_or_else(|| {
            let (last, _) = signal(None);
            let (count, _) = signal(0);
            let (resyncs, _) = signal(0);
            LiveJobs {
                last,
                count,
                resyncs,
            }
        })
    }

    /// The latest pushed state of job `id`, and the reconnections (read inside a memo, it
    /// changes when the server reports a change of that job or the stream reconnects).
    pub fn job(self, id: Option<i64>) -> (Option<JobRecord>, u64) {
        (
            self.last.get().filter(|j| Some(j.id) == id),
            self.resyncs.get(),
        )
    }
}

/// Opens the event stream and provides [`LiveJobs`] to the pages below.
pub fn provide_live_jobs() -> LiveJobs {
    let (last, set_last) = signal(None::<JobRecord>);
    let (count, set_count) = signal(0u64);
    let (resyncs, set_resyncs) = signal(0u64);
    Effect::new(move |opened: Option<bool>| {
        if opened != Some(true) {
            listen(set_last, set_count, set_resyncs);
        }
        true
    });
    let live = LiveJobs {
        last,
        count,
        resyncs,
    };
    provide_context(live);
    live
}

#[cfg(feature = "hydrate")]
fn listen(
    set_last: WriteSignal<Option<JobRecord>>,
    set_count: WriteSignal<u64>,
    set_resyncs: WriteSignal<u64>,
) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Ok(source) = web_sys::EventSource::new("/api/v1/imports/events") else {
        return;
    };
    let on_job =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(job) = e
                .data()
                .as_string()
                .and_then(|text| serde_json::from_str::<JobRecord>(&text).ok())
            {
                set_last.set(Some(job));
                set_count.update(|n| *n += 1);
            }
        });
    let on_resync = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        set_resyncs.update(|n| *n += 1);
        set_count.update(|n| *n += 1);
    });
    let _ = source.add_event_listener_with_callback("job", on_job.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
    // The stream lives as long as the page: the browser reconnects it whenever the server
    // ends it, and the server says `resync` at the start of every connection.
    on_job.forget();
    on_resync.forget();
}

#[cfg(not(feature = "hydrate"))]
fn listen(_: WriteSignal<Option<JobRecord>>, _: WriteSignal<u64>, _: WriteSignal<u64>) {}
