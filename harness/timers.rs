//! Timers the simulation can see: every wait a service makes (a sleep, a timeout, a
//! periodic tick, hyper's own timeouts) goes through here.
//!
//! The simulation polls a host only when it has something to do (turmoil's
//! `Builder::skip_idle_hosts`, set in `world::sim`): a message for it, or a timer of
//! its due. A message turmoil knows about; a timer it knows about only when the
//! software tells it, with `turmoil::wake_at`. Each function here registers its
//! deadline that way, then waits on tokio's timer exactly as the service did before, so
//! what a service does, and when, is unchanged; the simulation merely skips the hosts
//! and the stretches of time in which nothing can happen. A timer dropped before its
//! deadline (a timeout whose future finished first, a sleep in a `select!`'s losing
//! branch, a hyper timer reset or dropped) withdraws its deadline
//! (`turmoil::cancel_wake`), so the host is not polled at it for nothing. A wait that bypassed this
//! module would fire late in the simulation (when the host is next polled for another
//! reason), so services call tokio's timers only through here
//! (`tests/module_graph.rs` checks that no service names `tokio::time::sleep`,
//! `timeout` or `interval` itself).
//!
//! Outside a simulation (`harness serve`, on real sockets) the registration does
//! nothing and these are tokio's timers.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

/// Waits for `duration` of simulated time.
pub async fn sleep(duration: Duration) {
    sleep_until(Instant::now() + duration).await;
}

/// A deadline registered with the simulation, withdrawn when this is dropped: the timer
/// it stands for fired (its task ran) or was dropped before it (a timeout whose future
/// finished first, the losing branch of a `select!`), so the host is not polled at it
/// for nothing.
#[derive(Debug)]
struct Registered(Option<turmoil::Wake>);

impl Registered {
    fn at(deadline: Instant) -> Self {
        Self(turmoil::wake_at(deadline))
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(wake) = self.0.take() {
            turmoil::cancel_wake(wake);
        }
    }
}

/// Waits until `deadline` on the host's clock.
pub async fn sleep_until(deadline: Instant) {
    let _registered = Registered::at(deadline);
    tokio::time::sleep_until(deadline).await;
}

/// Runs `future` for at most `duration`: tokio's `timeout`, with its deadline
/// registered.
pub async fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let _registered = Registered::at(Instant::now() + duration);
    tokio::time::timeout(duration, future).await
}

/// How late a tick may be before tokio's `Interval` counts it as missed and applies
/// its `MissedTickBehavior` (tokio's own constant, in `time/interval.rs`).
const MISSED_TICK_SLACK: Duration = Duration::from_millis(5);

/// A periodic tick that, when late, starts the next period from the moment it ticked
/// (tokio's `MissedTickBehavior::Delay`, the behaviour every periodic service here
/// wants): tokio's `Interval`, with each next deadline registered.
#[derive(Debug)]
pub struct Interval {
    inner: tokio::time::Interval,
    period: Duration,
    /// When the next tick is due, by tokio's rule.
    next: Instant,
}

impl Interval {
    /// An interval whose first tick is now, then every `period`.
    pub fn delay(period: Duration) -> Self {
        let mut inner = tokio::time::interval(period);
        inner.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            inner,
            period,
            next: Instant::now(),
        }
    }

    /// Waits for the next tick; returns the instant it was due.
    pub async fn tick(&mut self) -> Instant {
        let registered = Registered::at(self.next);
        let due = self.inner.tick().await;
        drop(registered);
        let now = Instant::now();
        self.next = if now > due + MISSED_TICK_SLACK {
            now + self.period
        } else {
            due + self.period
        };
        due
    }
}

/// hyper's timer (header-read and keep-alive timeouts): hyper-util's `TokioTimer`, with
/// every deadline registered.
#[derive(Debug, Clone, Default)]
pub struct HyperTimer(hyper_util::rt::TokioTimer);

impl HyperTimer {
    /// The timer to hand to hyper's builders.
    pub fn new() -> Self {
        Self::default()
    }
}

/// One of hyper's sleeps, its deadline registered for as long as it lives.
struct HyperSleep {
    inner: Pin<Box<dyn hyper::rt::Sleep>>,
    registered: Registered,
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl HyperTimer {
    fn registered(
        inner: Pin<Box<dyn hyper::rt::Sleep>>,
        deadline: Instant,
    ) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner,
            registered: Registered::at(deadline),
        })
    }
}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Self::registered(self.0.sleep(duration), Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Self::registered(self.0.sleep_until(deadline), deadline.into())
    }

    /// The host's tokio clock, as `TokioTimer` reads it (hyper's default would read the
    /// machine's clock).
    fn now(&self) -> std::time::Instant {
        self.0.now()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => {
                let ours = ours.get_mut();
                ours.registered = Registered::at(new_deadline.into());
                self.0.reset(&mut ours.inner, new_deadline);
            }
            None => {
                *sleep = Self::registered(self.0.sleep_until(new_deadline), new_deadline.into());
            }
        }
    }
}
