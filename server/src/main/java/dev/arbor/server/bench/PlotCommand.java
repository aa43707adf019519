package dev.arbor.server.bench;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** Draws the PNG of benchmark JSON files written where AWT was missing (the GPU machine's small runtime). */
@Command(mixinStandardHelpOptions = true, name = "plot", description = "Draw the PNG plot of benchmark JSON files (written by bench throughput / shared-prefix --out).")
public final class PlotCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "FILE.json", description = "benchmark reports; each PNG is written beside its JSON")
    List<Path> files;

    @Override
    public Integer call() throws Exception {
        for (Path f : files) {
            String name = f.getFileName().toString();
            Path png = f.resolveSibling(name.endsWith(".json") ? name.substring(0, name.length() - 5) + ".png" : name + ".png");
            BenchPlot.write(BenchReport.read(f), png);
            System.out.println(png);
        }
        return 0;
    }
}
