//! Several instances over one folder, as behind a load balancer or in containers sharing a
//! volume: start-up never removes another instance's upload in progress, does remove a killed
//! one's, two instances writing one name leave one whole body that both serve alike, and of
//! two creating one name only if absent, one lands.
//!
//! The namespace tests run the second instance in its own PID namespace (`unshare --pid`, which
//! needs root, as in CI); where that is not possible they say so and return.

mod common;

use common::process::{temp_files, wait_for_upload_start, Proc};
use common::{read_response, wait_until, TempDir, CLIENT_TIMEOUT};
use std::io::Write;
use std::process::Command;
use std::time::{Duration, SystemTime};

const OTHER_PID_NAMESPACE: &[&str] =
    &["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"];

fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: `unshare --pid` is not available here (it needs root)");
    }
    ok
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 251) as u8).collect()
}

#[test]
fn an_instance_in_another_pid_namespace_leaves_a_live_upload_alone() {
    // The bug of issue 12: B, in its own PID namespace, found no process with A's PID, removed
    // A's temporary file, and A answered its PUT with 404.
    if !can_unshare() {
        return;
    }
    let dir = TempDir::new("instances-live");
    std::fs::write(dir.path().join("doc"), b"old").unwrap();
    let a = Proc::start(dir.path(), &[]);
    let body = data(1 << 20);
    let mut s = a.connect();
    write!(
        s,
        "PUT /files/doc HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..1000]).unwrap();
    wait_for_upload_start(dir.path());
    let mut b = Proc::start_under(OTHER_PID_NAMESPACE, dir.path(), &[]);
    let note = b.wait_log("unfinished upload");
    assert!(note.contains("removed 0"), "{note}");
    assert!(note.contains("left 1"), "{note}");
    assert_eq!(temp_files(dir.path()).len(), 1);
    s.write_all(&body[1000..]).unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(std::fs::read(dir.path().join("doc")).unwrap(), body);
    assert!(temp_files(dir.path()).is_empty());
    drop(b);
}

#[test]
fn an_instance_in_another_pid_namespace_removes_a_killed_instances_upload() {
    if !can_unshare() {
        return;
    }
    let dir = TempDir::new("instances-killed");
    std::fs::write(dir.path().join("doc"), b"old").unwrap();
    let mut a = Proc::start(dir.path(), &[]);
    let mut s = a.connect();
    s.write_all(b"PUT /files/doc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nabc")
        .unwrap();
    wait_for_upload_start(dir.path());
    a.signal("KILL");
    assert!(!a.wait_exit().success());
    let names = temp_files(dir.path());
    assert_eq!(names.len(), 1, "a killed upload leaves its file");
    // Its writer is gone, but its PID means nothing in B's namespace: what tells B is the free
    // lock on a file untouched for a while (made to look a minute old rather than waiting).
    let left = std::fs::File::options()
        .write(true)
        .open(dir.path().join(&names[0]))
        .unwrap();
    left.set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    drop(left);
    let mut b = Proc::start_under(OTHER_PID_NAMESPACE, dir.path(), &[]);
    let note = b.wait_log("unfinished upload");
    assert!(note.contains("removed 1"), "{note}");
    assert!(temp_files(dir.path()).is_empty());
    assert_eq!(std::fs::read(dir.path().join("doc")).unwrap(), b"old");
}

#[test]
fn a_second_instance_on_one_host_leaves_a_live_upload_alone() {
    // The same without a namespace (no root needed): same host, the owner's PID is running and
    // its lock is held.
    let dir = TempDir::new("instances-same-host");
    let a = Proc::start(dir.path(), &[]);
    let mut s = a.connect();
    s.write_all(b"PUT /files/doc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nabc")
        .unwrap();
    wait_for_upload_start(dir.path());
    let mut b = Proc::start(dir.path(), &[]);
    let note = b.wait_log("unfinished upload");
    assert!(
        note.contains("removed 0") && note.contains("left 1"),
        "{note}"
    );
    s.write_all(b"def").unwrap();
    assert_eq!(read_response(&mut s, false).status, 201);
    assert_eq!(std::fs::read(dir.path().join("doc")).unwrap(), b"abcdef");
}

#[test]
fn two_instances_storing_one_name_leave_one_whole_body_served_alike_by_both() {
    let dir = TempDir::new("instances-race");
    let a = Proc::start(dir.path(), &[]);
    let b = Proc::start(dir.path(), &[]);
    let bodies = [data(2 << 20), vec![b'b'; 3 << 20]];
    for round in 0..3 {
        let writers: Vec<_> = bodies
            .iter()
            .cloned()
            .zip([a.addr, b.addr])
            .map(|(body, addr)| {
                std::thread::spawn(move || {
                    let mut s = common::connect(addr);
                    write!(
                        s,
                        "PUT /files/race HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .unwrap();
                    for piece in body.chunks(64 * 1024) {
                        s.write_all(piece).unwrap();
                    }
                    read_response(&mut s, false).status
                })
            })
            .collect();
        for w in writers {
            let status = w.join().unwrap();
            assert!(status == 201 || status == 204, "round {round}: {status}");
        }
        let mut etags = Vec::new();
        for p in [&a, &b] {
            let mut s = p.connect();
            s.write_all(b"GET /files/race HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let r = read_response(&mut s, false);
            assert_eq!(r.status, 200);
            assert!(
                bodies.contains(&r.body),
                "round {round}: a mix of the two bodies"
            );
            etags.push(r.header("etag").unwrap().to_string());
        }
        assert_eq!(etags[0], etags[1], "both instances give the file one ETag");
        assert!(temp_files(dir.path()).is_empty());
    }
}

#[test]
fn a_leftover_with_the_next_temporary_name_is_skipped_not_a_500() {
    // A restarted container's server is PID 1 again, in a namespace whose inode the kernel
    // may reuse, with its counter back at 0: its names repeat those of the killed one.
    let dir = TempDir::new("instances-leftover");
    let p = Proc::start(dir.path(), &[]);
    let host = http_server::app::store::uploads::host_identity();
    let pid = p.child.id();
    for n in 0..5 {
        let name = format!(".http-server-upload-{host}-{pid}-{n}.part");
        std::fs::write(dir.path().join(name), b"a dead upload").unwrap();
    }
    let mut s = p.connect();
    s.write_all(b"PUT /files/doc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nnew")
        .unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(std::fs::read(dir.path().join("doc")).unwrap(), b"new");
    assert_eq!(
        temp_files(dir.path()).len(),
        5,
        "the leftovers are not ours to remove now"
    );
}

#[test]
fn two_instances_creating_one_name_only_if_absent_land_one_body() {
    // The page's uploads (If-None-Match: *) through two instances at once: both find the name
    // free when they start, and only one may create it; the other gets 412, and the file is
    // the winner's whole body.
    let dir = TempDir::new("instances-create");
    let a = Proc::start(dir.path(), &[]);
    let b = Proc::start(dir.path(), &[]);
    let bodies = [data(300_000), vec![b'b'; 200_000]];
    let mut started: Vec<_> = [&a, &b]
        .iter()
        .zip(&bodies)
        .map(|(p, body)| {
            let mut s = p.connect();
            write!(
                s,
                "PUT /files/new HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: *\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            s.write_all(&body[..body.len() - 1]).unwrap();
            s
        })
        .collect();
    let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
    wait_until(deadline, "both uploads began", || {
        temp_files(dir.path()).len() >= 2
    });
    let mut statuses = Vec::new();
    for (s, body) in started.iter_mut().zip(&bodies) {
        s.write_all(&body[body.len() - 1..]).unwrap();
        statuses.push(read_response(s, false).status);
    }
    assert_eq!(statuses, [201, 412], "the first to finish creates it");
    assert_eq!(std::fs::read(dir.path().join("new")).unwrap(), bodies[0]);
    assert!(temp_files(dir.path()).is_empty());
}

/// Sends one request to `p` and reads the answer.
fn ask(p: &Proc, raw: &str) -> common::Response {
    let mut s = p.connect();
    s.write_all(raw.as_bytes()).unwrap();
    read_response(&mut s, false)
}

#[test]
fn a_webdav_lock_outlives_a_restart() {
    let dir = TempDir::new("instances-locks");
    std::fs::write(dir.path().join("doc"), b"old").unwrap();
    let lockinfo = r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
    let a = Proc::start(dir.path(), &[]);
    let r = ask(
        &a,
        &format!(
            "LOCK /files/doc HTTP/1.1\r\nHost: localhost\r\nTimeout: Second-600\r\nContent-Length: {}\r\n\r\n{lockinfo}",
            lockinfo.len()
        ),
    );
    assert_eq!(r.status, 200);
    let token = r.header("lock-token").unwrap().to_string();
    drop(a);
    // The new process still refuses a write without the token and takes one with it.
    let b = Proc::start(dir.path(), &[]);
    let put = |fields: &str| {
        ask(
            &b,
            &format!("PUT /files/doc HTTP/1.1\r\nHost: localhost\r\n{fields}Content-Length: 3\r\n\r\nnew"),
        )
        .status
    };
    assert_eq!(put(""), 423);
    assert_eq!(put(&format!("If: ({token})\r\n")), 204);
    assert_eq!(std::fs::read(dir.path().join("doc")).unwrap(), b"new");
}

#[test]
fn start_up_removes_a_killed_copys_folder_and_leaves_a_live_one_alone() {
    // A COPY of a folder fills it under a temporary name, holding a lock file inside it. Two
    // such folders as a process of this host left them (the test's own PID, which is running):
    // one whose lock nobody holds (its copy was killed a minute ago), one whose lock the test
    // holds (a copy in progress in another instance). Only the lock tells them apart.
    use http_server::app::store::uploads::{host_identity, COPY_LOCK_NAME};
    use std::os::fd::AsFd;
    let dir = TempDir::new("instances-copies");
    let made = |n: u32| {
        let name = format!(
            ".http-server-upload-{}-{}-{n}.part",
            host_identity(),
            std::process::id()
        );
        let folder = dir.path().join("sub").join(name);
        std::fs::create_dir_all(folder.join("inner")).unwrap();
        std::fs::write(folder.join("inner/half.txt"), b"half a copy").unwrap();
        let lock = std::fs::File::create(folder.join(COPY_LOCK_NAME)).unwrap();
        lock.set_modified(SystemTime::now() - Duration::from_secs(60))
            .unwrap();
        (folder, lock)
    };
    let (dead, _) = made(1);
    let (live, held) = made(2);
    assert!(http_server::sys::try_lock_exclusive(held.as_fd()).unwrap());
    let mut p = Proc::start(dir.path(), &[]);
    let note = p.wait_log("unfinished upload");
    assert!(note.contains("removed 1"), "{note}");
    assert!(note.contains("left 1"), "{note}");
    assert!(!dead.exists(), "the killed copy's folder is removed");
    assert!(live.join("inner/half.txt").exists(), "the live copy stays");
    // A copy that lands leaves neither its lock file nor a temporary folder.
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/a.txt"), b"a").unwrap();
    let mut s = p.connect();
    s.write_all(
        b"COPY /files/src/ HTTP/1.1\r\nHost: localhost\r\nDestination: /files/sub/copy/\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut s, false).status, 201);
    let names = |path: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join(path))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sub/copy"), ["a.txt"]);
    assert_eq!(names("sub").len(), 2, "{:?}", names("sub"));
    drop(p);
    // Its lock released, the other copy is as dead as the first.
    drop(held);
    let mut p = Proc::start(dir.path(), &[]);
    let note = p.wait_log("unfinished upload");
    assert!(note.contains("removed 1"), "{note}");
    assert_eq!(names("sub"), ["copy"]);
}
