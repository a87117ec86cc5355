//! The push lane: one thread with a runtime of its own, for what carries a
//! vote to the presenter's screen. The tally [`flusher`], the presenter
//! sockets, the events [`listener`] and the Redis connection the pushes
//! read the tallies on all run here.
//!
//! Why a thread: the server's runtime runs one task per audience socket.
//! Flat out, thousands of them are ready at any moment, and a task woken
//! there waits behind every ready one before it is polled. A push takes
//! several such wakes (the flusher's timer, the tally read's reply, the
//! presenter socket's turn to write), so on the shared runtime each push
//! waited for the whole queue several times over, and the presenter saw a
//! few pushes a second. Here a woken task is polled next: the lane is
//! idle but for the pushes, and the operating system runs a thread that
//! mostly sleeps as soon as it wakes.
//!
//! [`flusher`]: super::push::flusher
//! [`listener`]: super::push::listener

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// The lane's runtime, started on first use; `None` if its thread could
/// not be started (everything then runs on the caller's runtime).
static LANE: OnceLock<Option<Handle>> = OnceLock::new();

fn start() -> Option<Handle> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("cyoa-push")
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the push lane's runtime: pushes share the server's");
            return None;
        }
    };
    let handle = runtime.handle().clone();
    let started = std::thread::Builder::new()
        .name("cyoa-push".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()));
    match started {
        Ok(_) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the push lane's thread: pushes share the server's");
            None
        }
    }
}

/// Runs `task` on the push lane (or, without one, on the current runtime).
pub fn spawn<F>(task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match LANE.get_or_init(start) {
        Some(lane) => lane.spawn(task),
        None => tokio::spawn(task),
    }
}

/// Runs `task` on the push lane and waits for its result here. A task
/// that panicked is reported as `None`.
pub async fn run<F>(task: F) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn(task).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_runs_on_the_lanes_thread_and_returns_its_result() {
        let name = run(async { std::thread::current().name().map(str::to_string) }).await;
        assert_eq!(name, Some(Some("cyoa-push".to_string())));
        // The lane's timers run on its own clock.
        let slept = run(async { tokio::time::sleep(std::time::Duration::from_millis(1)).await }).await;
        assert_eq!(slept, Some(()));
    }
}
