//! `mq keygen`: a new CURVE key pair, printed (public key, then secret key, in Z85)
//! or written as certificates in the format pyzmq's `zmq.auth` reads and writes
//! (`NAME.key` with the public key, `NAME.key_secret` with both; see
//! [`monocoque::certificate`]).

use monocoque::{certificate, CurveKeyPair};

/// Prints or writes a fresh key pair.
pub fn run(out: Option<&str>) -> Result<(), String> {
    let pair = CurveKeyPair::generate();
    let Some(name) = out else {
        println!("{}", pair.public().to_z85());
        println!("{}", &*pair.secret_z85());
        return Ok(());
    };
    let (public, secret) = certificate::save(name, &pair).map_err(|e| e.to_string())?;
    eprintln!("mq: wrote {} and {}", public.display(), secret.display());
    Ok(())
}
