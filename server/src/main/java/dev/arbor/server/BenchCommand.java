package dev.arbor.server;

import dev.arbor.server.bench.PlotCommand;
import dev.arbor.server.bench.ServeBench;
import dev.arbor.server.bench.SharedPrefixBench;
import dev.arbor.server.bench.ThroughputBench;
import picocli.CommandLine.Command;

/** {@code arbor bench ...}: workloads that report what they measured (not tests). */
@Command(mixinStandardHelpOptions = true, showDefaultValues = true, name = "bench", description = "Benchmarks.", subcommands = {SharedPrefixBench.class, ThroughputBench.class, ServeBench.class, PlotCommand.class})
final class BenchCommand implements Runnable {
    @Override
    public void run() {
        picocli.CommandLine.usage(this, System.out);
    }
}
