//! Request-reply: a Monocoque REP server and a libzmq REQ client.
//!
//! The server binds a REP socket on an ephemeral port and answers each request with
//! its text upper-cased; the client, on a thread of its own with the `zmq` crate (as a
//! pyzmq or C program would be), sends a few requests and prints the replies. REQ and
//! REP alternate strictly: the client cannot send again before its reply, the server
//! cannot take another request before it has answered.
//!
//! Run it with `cargo run -p monocoque --example req_rep`.

use std::error::Error;
use std::thread;

use monocoque::Rep;

const REQUESTS: [&str; 3] = ["hello", "how are you", "goodbye"];

fn main() -> Result<(), Box<dyn Error>> {
    glommio::LocalExecutor::default().run(async {
        let server = Rep::new();
        let endpoint = server.bind("tcp://127.0.0.1:0")?.to_string();
        println!("server listening on {endpoint}");

        let client = thread::spawn(move || -> zmq::Result<()> {
            let ctx = zmq::Context::new();
            let req = ctx.socket(zmq::REQ)?;
            req.set_rcvtimeo(5000)?;
            req.connect(&endpoint)?;
            for text in REQUESTS {
                req.send(text, 0)?;
                let reply = req.recv_string(0)?.expect("UTF-8");
                println!("client got: {reply}");
            }
            Ok(())
        });

        for _ in REQUESTS {
            let request = server.recv().await?; // the envelope is kept for the reply
            let text = String::from_utf8_lossy(&request[0]).into_owned();
            println!("server got: {text}");
            server.send(text.to_uppercase()).await?;
        }
        let stats = server.stats();
        println!("served {} requests, {} replies", stats.received, stats.sent);
        // Closing waits (up to LINGER) for the last reply to be written: blocking this
        // thread on the client before that would stall the executor that writes it.
        server.close().await;
        client.join().expect("client thread")?;
        Ok::<(), Box<dyn Error>>(())
    })
}
