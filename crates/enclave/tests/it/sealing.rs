//! Sealing the block-signing key to the host and the build.

use mcnode_enclave::{
    sealing::{seal, unseal, SealError},
    ConsensusEnclave, HostSecret, Measurement, SoftwareEnclave, BUILD_MEASUREMENT,
};

use crate::config;

#[test]
fn seal_round_trip_and_refusals() {
    let host = HostSecret::from_bytes([1; 32]);
    let sealed = seal(b"secret", &host, &BUILD_MEASUREMENT, "p").unwrap();
    assert_eq!(
        unseal(&sealed, &host, &BUILD_MEASUREMENT, "p").unwrap(),
        b"secret"
    );
    assert!(matches!(
        unseal(
            &sealed,
            &HostSecret::from_bytes([2; 32]),
            &BUILD_MEASUREMENT,
            "p"
        ),
        Err(SealError::Unseal)
    ));
    assert!(matches!(
        unseal(&sealed, &host, &Measurement([0; 32]), "p"),
        Err(SealError::Unseal)
    ));
    assert!(matches!(
        unseal(&sealed, &host, &BUILD_MEASUREMENT, "q"),
        Err(SealError::Unseal)
    ));
    assert!(matches!(
        unseal(&sealed[..10], &host, &BUILD_MEASUREMENT, "p"),
        Err(SealError::Malformed)
    ));
    let mut v2 = sealed.clone();
    v2[0] = 2;
    assert!(matches!(
        unseal(&v2, &host, &BUILD_MEASUREMENT, "p"),
        Err(SealError::Malformed)
    ));
}

#[test]
fn restart_on_the_same_host_keeps_the_key_another_host_gets_a_new_one() {
    let host = HostSecret::from_bytes([1; 32]);
    let (first, report) = SoftwareEnclave::new(config("a"), host.clone(), None).unwrap();
    assert!(report.created_new_key);
    let sealed = report.sealed_key;
    let (again, report) = SoftwareEnclave::new(config("a"), host, Some(&sealed)).unwrap();
    assert!(!report.created_new_key && report.unseal_error.is_none());
    assert_eq!(again.block_signer(), first.block_signer());

    let (moved, report) =
        SoftwareEnclave::new(config("a"), HostSecret::from_bytes([2; 32]), Some(&sealed)).unwrap();
    assert!(report.created_new_key);
    assert!(report.unseal_error.is_some());
    assert_ne!(moved.block_signer(), first.block_signer());
}

#[test]
fn host_secret_file_is_created_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/host-secret");
    let a = HostSecret::load_or_create(&path).unwrap();
    let b = HostSecret::load_or_create(&path).unwrap();
    let sealed = seal(b"k", &a, &BUILD_MEASUREMENT, "p").unwrap();
    assert_eq!(unseal(&sealed, &b, &BUILD_MEASUREMENT, "p").unwrap(), b"k");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    std::fs::write(&path, b"short").unwrap();
    assert!(matches!(
        HostSecret::load_or_create(&path),
        Err(SealError::HostSecretLength(_))
    ));
}

#[test]
fn unsupported_modes_fail_at_start_with_a_clear_message() {
    use mcnode_enclave::{IasMode, ModeError, SgxMode};
    let mut c = config("a");
    c.sgx_mode = SgxMode::Hw;
    let e = SoftwareEnclave::new(c, HostSecret::from_bytes([1; 32]), None)
        .err()
        .unwrap();
    assert!(matches!(
        e,
        mcnode_enclave::EnclaveError::Mode(ModeError::HardwareUnsupported)
    ));
    assert!(e.to_string().contains("SGX_MODE=SW"));
    let mut c = config("a");
    c.ias_mode = IasMode::Prod;
    let e = SoftwareEnclave::new(c, HostSecret::from_bytes([1; 32]), None)
        .err()
        .unwrap();
    assert!(matches!(
        e,
        mcnode_enclave::EnclaveError::Mode(ModeError::ProdNeedsHardware)
    ));
    assert_eq!("hw".parse::<SgxMode>(), Ok(SgxMode::Hw));
    assert!("xx".parse::<IasMode>().is_err());
}

#[test]
fn measurement_is_the_hash_of_the_enclave_code() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    assert_eq!(
        mcnode_enclave::measure::measure_sources(crates).unwrap(),
        BUILD_MEASUREMENT.0
    );
    // Changing one byte of enclave code changes it.
    let tmp = tempfile::tempdir().unwrap();
    for name in mcnode_enclave::measure::MEASURED_CRATES {
        for (dir, _) in mcnode_enclave::measure::MEASURED_FILES {
            if crates.join(name).join(dir).is_dir() {
                copy_dir(
                    &crates.join(name).join(dir),
                    &tmp.path().join(name).join(dir),
                );
            }
        }
    }
    assert_eq!(
        mcnode_enclave::measure::measure_sources(tmp.path()).unwrap(),
        BUILD_MEASUREMENT.0
    );
    let f = tmp.path().join("enclave/src/software.rs");
    let mut body = std::fs::read(&f).unwrap();
    body.push(b'\n');
    std::fs::write(&f, body).unwrap();
    assert_ne!(
        mcnode_enclave::measure::measure_sources(tmp.path()).unwrap(),
        BUILD_MEASUREMENT.0
    );
    // So does a change of the ledger schema the enclave decodes.
    std::fs::write(
        &f,
        std::fs::read(crates.join("enclave/src/software.rs")).unwrap(),
    )
    .unwrap();
    let proto = tmp
        .path()
        .join("blockchain/proto/mcnode/ledger/v1/ledger.proto");
    let mut body = std::fs::read(&proto).unwrap();
    body.push(b'\n');
    std::fs::write(&proto, body).unwrap();
    assert_ne!(
        mcnode_enclave::measure::measure_sources(tmp.path()).unwrap(),
        BUILD_MEASUREMENT.0
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
