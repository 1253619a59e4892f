//! The first interop check: a Monocoque DEALER talking to a libzmq ROUTER.

use std::time::Duration;

#[test]
fn dealer_to_libzmq_router() {
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER).unwrap();
    router.set_rcvtimeo(5000).unwrap();
    router.set_linger(0).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = router.get_last_endpoint().unwrap().unwrap();
    let t = std::thread::spawn(move || {
        let msg = router.recv_multipart(0).unwrap();
        router.send_multipart(&msg, 0).unwrap();
        msg
    });
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 << 10)
        .spawn(move || async move {
            let d = monocoque::Dealer::new();
            d.connect(&ep).unwrap();
            d.send(vec!["a", "b"]).await.unwrap();
            let r = glommio::timer::timeout(Duration::from_secs(5), async {
                Ok(d.recv().await.unwrap())
            })
            .await
            .unwrap();
            assert_eq!(r.len(), 2);
            assert_eq!(&r[1][..], b"b");
        })
        .unwrap()
        .join()
        .unwrap();
    let got = t.join().unwrap();
    assert_eq!(got.len(), 3);
}
