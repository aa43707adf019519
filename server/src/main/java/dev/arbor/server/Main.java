package dev.arbor.server;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code arbor} command line: generate, demo, bench, serve. */
@Command(name = "arbor", mixinStandardHelpOptions = true, showDefaultValues = true, version = "Arbor 0.1.0",
        description = "A pure-Java LLM inference engine with a prefix-sharing paged KV cache.",
        footer = {"", "Environment (read by the ./arbor launcher and the CLI):",
                "  ARBOR_JAVA_OPTS  JVM options added after the defaults (-Xmx12g -Xss4m),",
                "                   e.g. -Darbor.cpu.threads=8 or -Xmx24g",
                "  ARBOR_DEBUG=1    print the stack trace of an error (or -Darbor.debug=true)",
                "  log level        -Dorg.slf4j.simpleLogger.defaultLogLevel=debug|info|warn",
                "                   in ARBOR_JAVA_OPTS (default info)"},
        subcommands = {GenerateCommand.class, DemoCommand.class, BenchCommand.class, ServeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        if (Runtime.version().feature() < 25) {
            System.err.println("Arbor needs Java 25 or newer; this is Java " + Runtime.version()
                    + ". Set JAVA_HOME to a JDK 25 (e.g. /usr/lib/jvm/temurin-25-jdk-amd64).");
            System.exit(2);
        }
        boolean listing = args.length == 0 || java.util.Arrays.stream(args).anyMatch(
                a -> a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version") || a.equals("help"));
        String flags = dev.arbor.engine.JvmFlags.problem();
        if (flags != null && !listing) {   // help and usage need no Vector API (the launcher leaves the module out for them)
            System.err.println("arbor: " + flags + "; the ./arbor launcher adds it.");
            System.exit(2);
        }
        // DJL must never download its native library at run time (the GPU host would fetch a CUDA build).
        System.setProperty("ai.djl.offline", "true");
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler(new UsageErrors());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + e.getMessage());
            if (debug()) e.printStackTrace(cmd.getErr());
            return 1;
        });
        return cl;
    }

    /** Stack traces on errors: {@code ARBOR_DEBUG=1} or {@code -Darbor.debug=true}. */
    static boolean debug() {
        String env = System.getenv("ARBOR_DEBUG");
        return Boolean.getBoolean("arbor.debug") || (env != null && !env.isEmpty() && !env.equals("0") && !env.equalsIgnoreCase("false"));
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
