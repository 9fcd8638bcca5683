//! In-memory stand-ins for the ports, for unit tests of the functions.

use std::sync::Mutex;

use crate::error::StewardError;
use crate::notify::Notification;
use crate::ports::Notifier;

/// Keeps every notification published.
#[derive(Debug, Default)]
pub struct Inbox(Mutex<Vec<Notification>>);

impl Inbox {
    pub fn received(&self) -> Vec<Notification> {
        self.0.lock().map(|inbox| inbox.clone()).unwrap_or_default()
    }
}

impl Notifier for Inbox {
    async fn publish(&self, notification: &Notification) -> Result<(), StewardError> {
        if let Ok(mut inbox) = self.0.lock() {
            inbox.push(notification.clone());
        }
        Ok(())
    }
}
