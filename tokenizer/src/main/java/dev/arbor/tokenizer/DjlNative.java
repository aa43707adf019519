package dev.arbor.tokenizer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settings DJL's tokenizer reads when it first loads its native library.
 *
 * <p>NOTE: on a host with CUDA, DJL picks a CUDA build of libtokenizers and tries to download it
 * (seen on the GPU machine: "Cannot download jni files .../cu122-90/libtokenizers.so"). Tokenizing
 * never needs a GPU, and Arbor must work without network, so we force the CPU build that ships
 * inside the DJL jar and DJL's offline mode, unless the user chose otherwise explicitly.
 */
final class DjlNative {
    private static final Logger LOG = LoggerFactory.getLogger(DjlNative.class);

    private DjlNative() {}

    /** Idempotent; must run before the first DJL tokenizer class initialises. */
    static synchronized void configure() {
        // DJL reads both through Utils.getEnvOrSystemProperty / isOfflineMode: env var or property.
        setUnlessChosen("RUST_FLAVOR", "RUST_FLAVOR", "cpu");
        setUnlessChosen("DJL_OFFLINE", "ai.djl.offline", "true");
    }

    private static void setUnlessChosen(String env, String property, String value) {
        if (System.getenv(env) != null || System.getProperty(property) != null) {
            LOG.debug("DJL setting {} left as chosen by the user", property);
            return;
        }
        System.setProperty(property, value);
    }
}
