package dev.arbor.server;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Usage errors: one line naming the bad option and pointing at --help, found before any model loads
 * (the model given here does not exist, so an error about it would mean the options were checked too late).
 */
class UsageTest {
    private static final String NO_MODEL = "/no/such/model/dir";

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            CommandLine cl = Main.commandLine();
            cl.setErr(new PrintWriter(new PrintStream(err, true, StandardCharsets.UTF_8), true));
            cl.setOut(new PrintWriter(new PrintStream(out, true, StandardCharsets.UTF_8), true));
            int exit = cl.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
        }
    }

    /** A usage error: exit 2, one line on stderr, naming {@code option} and pointing at the command's --help. */
    private static void assertUsageError(Run r, String command, String... mentions) {
        assertEquals(2, r.exit(), r.err());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), r.err());
        String line = lines.getFirst();
        assertTrue(line.startsWith(command + ": "), line);
        assertTrue(line.endsWith("see '" + command + " --help'"), line);
        for (String m : mentions) assertTrue(line.contains(m), "'" + m + "' missing from: " + line);
        assertFalse(line.contains(NO_MODEL), "the model was touched before the options were checked: " + line);
    }

    @Test
    void unknownOptionIsNamedEvenWhenARequiredOneIsMissing() {
        assertUsageError(run("generate", "--model", "synthetic:tiny", "--promt", "hi"), "arbor generate",
                "unknown option '--promt'", "did you mean --prompt?");
        assertUsageError(run("serve", "--model", "synthetic:tiny", "--prot=8000"), "arbor serve", "unknown option '--prot'", "--port");
    }

    @Test
    void optionValuesThatLookLikeOptionsAreNotUnknownOptions() {
        // "-1" is the value of --top-k, "-x" the value of --stop: only the missing --model is reported
        assertUsageError(run("generate", "--top-k", "-1", "--stop", "-x", "--prompt", "p"), "arbor generate", "--model");
    }

    @Test
    void samplingValuesAreCheckedBeforeTheModelLoads() {
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--max-tokens", "-1"), "arbor generate", "--max-tokens", "-1");
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--top-p", "1.5"), "arbor generate", "--top-p", "1.5");
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--min-p", "2"), "arbor generate", "--min-p");
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--temperature", "-0.5"), "arbor generate", "--temperature");
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--max-tokens", "many"), "arbor generate", "--max-tokens", "many");
    }

    @Test
    void engineValuesAreCheckedBeforeTheModelLoads() {
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--eviction-policy", "newest"), "arbor generate",
                "--eviction-policy", "newest", "lru, fifo, lfu or priority");
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--block-size", "0"), "arbor generate", "--block-size");
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--scheduling-policy", "random"), "arbor generate", "--scheduling-policy");
        assertUsageError(run("generate", "--model", NO_MODEL, "--prompt", "x", "--device", "tpu"), "arbor generate", "--device", "tpu");
        assertUsageError(run("demo", "--model", NO_MODEL, "--requests", "0"), "arbor demo", "--requests");
    }

    @Test
    void aTakenPortIsAUsageErrorNamingHostAndPortBeforeTheModelLoads() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            assertUsageError(run("serve", "--model", NO_MODEL, "--port", Integer.toString(port)), "arbor serve",
                    "cannot listen on 127.0.0.1:" + port);
        }
        assertUsageError(run("serve", "--model", NO_MODEL, "--port", "70000"), "arbor serve", "--port", "70000");
    }

    @Test
    void benchOptionsAreCheckedBeforeTheModelLoads() {
        assertUsageError(run("bench", "shared-prefix", "--model", NO_MODEL, "--modes", "auto,cold"), "arbor bench shared-prefix",
                "--modes", "'cold'", "no-cache, auto, explicit, prefix-group");
        assertUsageError(run("bench", "shared-prefix", "--model", NO_MODEL, "--groups", "0"), "arbor bench shared-prefix", "--groups");
        assertUsageError(run("bench", "throughput", "--model", NO_MODEL, "--top-p", "0"), "arbor bench throughput", "--top-p");
        assertUsageError(run("bench", "throughput", "--model", NO_MODEL, "--batch", "0"), "arbor bench throughput", "--batch");
        assertUsageError(run("bench", "throughput", "--model", NO_MODEL, "--ab", "arbor.x", "--ab-rounds", "0"), "arbor bench throughput", "--ab-rounds");
        assertUsageError(run("bench", "throughput", "--model", NO_MODEL, "--ab-profile"), "arbor bench throughput", "--ab-profile needs --ab");
    }

    /** Every option of every command has a description, and --help shows the default of every option that has one. */
    @Test
    void helpDocumentsEveryOptionWithItsDefault() {
        List<CommandLine> commands = new ArrayList<>();
        collect(Main.commandLine(), commands);
        assertTrue(commands.size() >= 7, "commands: " + commands.size());
        for (CommandLine cmd : commands) {
            CommandSpec spec = cmd.getCommandSpec();
            String help = cmd.getUsageMessage(CommandLine.Help.Ansi.OFF);
            for (OptionSpec o : spec.options()) {
                String where = spec.qualifiedName() + " " + o.longestName();
                assertTrue(o.description().length > 0 && !String.join(" ", o.description()).isBlank(), where + " has no description");
                if (o.defaultValue() != null && !o.usageHelp() && !o.versionHelp()) {
                    assertTrue(help.contains("Default: " + o.defaultValue()), where + ": default " + o.defaultValue() + " not in --help:\n" + help);
                }
            }
        }
    }

    @Test
    void helpListsTheAllowedValuesOfChoiceOptions() {
        String bench = Main.commandLine().getSubcommands().get("bench").getSubcommands().get("shared-prefix")
                .getUsageMessage(CommandLine.Help.Ansi.OFF);
        for (String mode : List.of("no-cache", "auto", "explicit", "prefix-group")) assertTrue(bench.contains(mode), bench);
        String generate = Main.commandLine().getSubcommands().get("generate").getUsageMessage(CommandLine.Help.Ansi.OFF);
        for (String s : List.of("lru | fifo | lfu | priority", "fcfs | lpm", "(0, 1]", "cpu|cuda|cuda:N|auto")) assertTrue(generate.contains(s), s + " in\n" + generate);
    }

    private static void collect(CommandLine cmd, List<CommandLine> into) {
        into.add(cmd);
        for (CommandLine sub : cmd.getSubcommands().values()) if (!sub.getCommandName().equals("help")) collect(sub, into);
    }
}
