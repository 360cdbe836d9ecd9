//! Where an engine's progress goes. The CLI prints it, the console turns it into its own
//! reports, tests collect it: each gives the engine one sink, so nothing sits in between to
//! forward one kind of event into another.

use std::sync::Arc;

use tokio::sync::mpsc;

/// Takes an engine's progress events as they happen. Cheap to clone (one shared function).
pub struct Progress<E> {
    deliver: Arc<dyn Fn(E) + Send + Sync>,
}

impl<E> Clone for Progress<E> {
    fn clone(&self) -> Self {
        Progress {
            deliver: Arc::clone(&self.deliver),
        }
    }
}

impl<E: 'static> Progress<E> {
    /// A sink that hands every event to `deliver` (which must not block: it runs on the
    /// engine's task).
    pub fn new(deliver: impl Fn(E) + Send + Sync + 'static) -> Progress<E> {
        Progress {
            deliver: Arc::new(deliver),
        }
    }

    pub fn report(&self, event: E) {
        (self.deliver)(event);
    }
}

/// A channel is a sink: its events wait for the receiver, and a receiver that has gone away
/// only means nobody is watching any more.
impl<E: Send + 'static> From<mpsc::UnboundedSender<E>> for Progress<E> {
    fn from(sender: mpsc::UnboundedSender<E>) -> Progress<E> {
        Progress::new(move |event| {
            let _ = sender.send(event);
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn a_sink_receives_every_event_in_order_also_through_its_clones() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&seen);
        let progress = Progress::new(move |n: u32| collected.lock().unwrap().push(n));
        progress.report(1);
        progress.clone().report(2);
        assert_eq!(*seen.lock().unwrap(), vec![1, 2]);
    }

    #[test]
    fn a_channel_whose_receiver_is_gone_takes_events_without_complaint() {
        let (sender, receiver) = mpsc::unbounded_channel::<u32>();
        drop(receiver);
        Progress::from(sender).report(1);
    }
}
