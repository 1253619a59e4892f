//! Standard input as an async stream of lines.
//!
//! Reading standard input blocks, which must not happen on the socket's executor
//! (it would stall every connection). A separate thread does the reading and hands
//! each line over a glommio shared channel. That thread runs its own small executor
//! because a channel's sending end must be connected from one; it only ever blocks
//! itself.

use std::io::BufRead;

use glommio::channels::shared_channel::{self, ConnectedReceiver};
use glommio::{LocalExecutorBuilder, Placement};

/// Lines buffered between the reader thread and the socket: small, so a socket that
/// cannot send (no peer, high-water mark) soon stops the reading too.
const BUFFERED_LINES: usize = 64;

/// What the reader thread passes on: a line without its line ending, or why reading
/// failed.
type Item = Result<Vec<u8>, String>;

/// The receiving end of the reader thread's lines.
pub struct Input {
    /// `None` once input has ended (or was never read).
    lines: Option<ConnectedReceiver<Item>>,
}

impl Input {
    /// Starts the reader thread. Must be called on a glommio executor.
    pub async fn start() -> Result<Input, String> {
        let (sender, receiver) = shared_channel::new_bounded::<Item>(BUFFERED_LINES);
        LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(64 << 10)
            .name("mq-stdin")
            .spawn(move || async move {
                let sender = sender.connect().await;
                let stdin = std::io::stdin();
                let mut reader = stdin.lock();
                while let Some(item) = read_line(&mut reader) {
                    let failed = item.is_err();
                    // Stop when the run loop no longer listens, or after an error.
                    if sender.send(item).await.is_err() || failed {
                        break;
                    }
                }
                // Dropping the sender tells the run loop that input has ended.
            })
            .map_err(|e| format!("cannot start the standard input reader: {e}"))?;
        Ok(Input {
            lines: Some(receiver.connect().await),
        })
    }

    /// An input that has already ended, for modes that do not read standard input.
    pub fn none() -> Input {
        Input { lines: None }
    }

    /// The next line, `Ok(None)` once input has ended, or the read error.
    pub async fn next_line(&mut self) -> Result<Option<Vec<u8>>, String> {
        let Some(lines) = &self.lines else {
            return Ok(None);
        };
        match lines.recv().await {
            Some(Ok(line)) => Ok(Some(line)),
            Some(Err(e)) => {
                self.lines = None;
                Err(e)
            }
            None => {
                self.lines = None;
                Ok(None)
            }
        }
    }
}

/// Reads one line, without its line ending; `None` at the end of input.
fn read_line(reader: &mut impl BufRead) -> Option<Item> {
    let mut line = Vec::new();
    match reader.read_until(b'\n', &mut line) {
        Ok(0) => None,
        Ok(_) => {
            let len = crate::frames::trim_line_ending(&line).len();
            line.truncate(len);
            Some(Ok(line))
        }
        Err(e) => Some(Err(format!("cannot read standard input: {e}"))),
    }
}
