//! The simulator's own token signing key: an RSA key generated once, offline, for the
//! simulator alone and committed so that its tokens verify the same in every run. It signs
//! only the simulator's test tokens for queue callers and is worthless anywhere else: no
//! tenant publishes it.

/// PKCS#8, PEM. THE SIMULATOR'S TEST KEY: never use it for anything but the simulator.
pub(super) const SIMULATOR_SIGNING_KEY: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDV45yZkE7FggA7\n\
scNXhRFgBCABuADWtL+Wvk57gnB0T/DmMHCEE08m0uIjkJs55QJwEIlYhuak/gZK\n\
qCzq4CRJnMJz7xzbG1Zz3A3fOmq7BbOqUs76wOeNT+phMr63gfHpMyhkGO2TvzZW\n\
zX+T1Ya2TLdG/G80tezVXn0C9Rz4veqyQ5dKRblWMkjFYd7syAC46LTarsGmRIpe\n\
/Palnqj4bDqgKpCRHBngsDwbFvYZkoap1Yw/u1HpCqqnhS4NiVld+1i8V3HDqpIO\n\
/NWyR04plLxIfdWj9F/vVbXk650D95eabchiwAV/KemaRrzavvRRis2alUtpdClV\n\
lIvuT/VPAgMBAAECggEAZgV3gNgQeq0Tp2WXI3vZWc8d5TP7Um5MpH6JuOfy88fd\n\
xC5+vMDpFD+qlgQ3xlmx2/pHSO6vvStdnOay5iWbqXEYX2xCe1CC4CiqhTu8BREn\n\
LarqBzlUOVdRGKO3zJgy52T7cyNgzwR5ytWicMV8yB+3nCh0ctQD75JuVqbL9ujg\n\
cu9OK1E55p1g7aYwPRUU+mpYHj3z8gtErHxokRdnE9lcVrQHynYkpZSagV96yQ58\n\
iqrHAnfw7MET42iNzvFsBCn/2A7ZV0TS/WVNo9FF5EjJL3KzdeGIGrVFE3tQsQsK\n\
cFxVUJO4INP1+30d/+AUHZhqhKpA1aDcG8adA77bAQKBgQDt54DeZhPifYHjbZtI\n\
xxrM6D9z8mtquL+hHvKmGx8IspvD3p2h/Dnsyt5RX3llPzAWA4S8/5rD7StOg/QD\n\
Q95h19HPUx1PHC4lV2igYRBJHgoFXbh7knWZp9/mNS88p1TFHMMt6Zp+1sOE5wFK\n\
SV8t0YL/IUUTS4odT45Wf73qrwKBgQDmKHteCIcY2qkP2o0MgYzzvti7L7Cy8ZZq\n\
BZ/xPLMel4IKdYzQMeg+WcgWxopNmPUVFTz6QDvpgLAV5yA1kbEJGhQlYq+wzfVY\n\
0Ks2Qg6dnenMLL7XjsB4SBJDUHlJoA2dsM+bDi9QkhdkWC4USJpHx8Pd1Auc2OFa\n\
HLxVg9THYQKBgAuGhqi/m0ECwZMqETbSZor8yW4tlWSjNK1ymWDQuY0rUf6IP2zE\n\
km3VWjXpATGVgRff7cNWQsIxMELqg5zQ4eotkX2Q0j+t5tJqTKhQa4CPUv71jmV2\n\
L/pUtrUpaHNwy9uMzCviQFjawLgklNxrd4/5sXX4v6byputKmmO4ZpQDAoGAeb/4\n\
YqnILVGeFRDbhD4Tvey64Wo84qwBkVwgW5BsgEZNOBMuxgNgg3si6UllZ9795oUx\n\
mH/aMY8tlqiI1U2YhOQSvCQUJEcO/kiECVOwP5iFUMhqu8R79CTL5GfxgQz1pvEd\n\
ITzDsq9VSHONDJXLZyU5a2L8MaBYtT52MhZmvIECgYAfIuteLU1Mno8NtCYQ8dro\n\
OWmchb/vsBHb/uU0t6VG+zagO1Y+u0Do+M936TGRRmLItfDLyYLSKrluAAtb4nQt\n\
lEEpcFD0p99fOfLHFv1u5rZ6/PeLVZ7v6b0jo0cWp/tF8DCrve3vLIvhPeHtvLIg\n\
/+cLNPfVs85Nltq5WHtB7A==\n\
-----END PRIVATE KEY-----\n\
";
