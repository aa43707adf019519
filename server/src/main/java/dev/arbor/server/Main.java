package dev.arbor.server;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code arbor} command line: generate, demo, bench, serve. */
@Command(name = "arbor", mixinStandardHelpOptions = true, showDefaultValues = true, version = "Arbor 0.1.0",
        description = "A pure-Java LLM inference engine with a prefix-sharing paged KV cache.",
        subcommands = {GenerateCommand.class, DemoCommand.class, BenchCommand.class, ServeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        if (Runtime.version().feature() < 25) {
            System.err.println("Arbor needs Java 25 or newer; this is Java " + Runtime.version()
                    + ". Set JAVA_HOME to a JDK 25 (e.g. /usr/lib/jvm/temurin-25-jdk-amd64).");
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
            if (Boolean.getBoolean("arbor.debug")) e.printStackTrace(cmd.getErr());
            return 1;
        });
        return cl;
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
