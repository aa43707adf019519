package dev.arbor.engine;

/**
 * The JVM flags Arbor needs, checked where a model is first loaded so that a missing one is one plain
 * sentence instead of a {@code NoClassDefFoundError} from deep inside the CPU matmuls.
 */
public final class JvmFlags {
    /** The flags to add to {@code java} (or to Surefire's {@code argLine}, or to an IDE's run configuration). */
    public static final String REQUIRED = "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED";

    private JvmFlags() {}

    /** Null when the JVM can run Arbor, else the sentence that says which flag is missing. */
    public static String problem() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "Arbor needs the Vector API module: start the JVM with --add-modules jdk.incubator.vector "
                    + "(the full set of flags is: " + REQUIRED + ")";
        }
        return null;
    }

    /** Throws {@link IllegalStateException} with {@link #problem()} when the JVM lacks a required flag. */
    public static void require() {
        String problem = problem();
        if (problem != null) throw new IllegalStateException(problem);
    }
}
