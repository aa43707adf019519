package dev.arbor.server.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a benchmark run measured, as written to {@code NAME-DATE.json} beside its {@code .png} plot: the command,
 * the device, the date, every figure with its unit and (where one is derived) its floor and how, and the bars the
 * plot draws. Built while the benchmark runs; {@link #write} at the end prints the paths.
 *
 * @param bench   the benchmark's name ({@code throughput}, {@code shared-prefix})
 * @param command the command line as given
 * @param device  the device line of the loaded model (GPU name, dtypes)
 * @param date    ISO-8601 UTC
 * @param figures name → figure, in the order measured
 * @param plot    the bar chart drawn into the PNG
 * @param quiet   figures are not printed as they are added (the benchmark prints JSON lines instead)
 */
public record BenchReport(String bench, String command, String device, String date, Map<String, Figure> figures, Plot plot,
                          @com.fasterxml.jackson.annotation.JsonIgnore boolean quiet) {

    /**
     * @param value measured
     * @param unit  e.g. ms/step, tokens/s, s
     * @param floor the physical floor in the same unit (NaN when none is derived)
     * @param basis how the floor is derived (bytes / measured rate), or null
     */
    public record Figure(double value, String unit, double floor, String basis) {}

    /**
     * A bar chart: one group of bars per category, one bar per series.
     *
     * @param series series name → one value per category (NaN: no bar)
     */
    public record Plot(String title, String yLabel, List<String> categories, Map<String, double[]> series) {}

    public static BenchReport start(String bench, String command, String device) {
        return new BenchReport(bench, command, device, DateTimeFormatter.ISO_INSTANT.format(Instant.now()), new LinkedHashMap<>(),
                new Plot(bench, "", new ArrayList<>(), new LinkedHashMap<>()), false);
    }

    /** This report, printing nothing as figures are added when {@code quiet}. */
    public BenchReport quiet(boolean quiet) {
        return new BenchReport(bench, command, device, date, figures, plot, quiet);
    }

    /** Adds a figure and prints it, with its floor when there is one. */
    public BenchReport figure(String name, double value, String unit, double floor, String basis) {
        figures.put(name, new Figure(value, unit, floor, basis));
        if (quiet) return this;
        if (Double.isNaN(floor)) System.out.printf(Locale.ROOT, "  %-34s %12.3f %s%n", name, value, unit);
        else System.out.printf(Locale.ROOT, "  %-34s %12.3f %s   floor %.3f %s (%s)%n", name, value, unit, floor, unit, basis);
        return this;
    }

    public BenchReport figure(String name, double value, String unit) {
        return figure(name, value, unit, Double.NaN, null);
    }

    /** The plot's title, y axis and categories (replacing any series set before). */
    public BenchReport plot(String title, String yLabel, List<String> categories) {
        Plot p = new Plot(title, yLabel, new ArrayList<>(categories), new LinkedHashMap<>());
        return new BenchReport(bench, command, device, date, figures, p, quiet);
    }

    public BenchReport bars(String series, double... perCategory) {
        if (perCategory.length != plot.categories().size()) {
            throw new IllegalArgumentException("series " + series + " has " + perCategory.length + " values for " + plot.categories().size() + " categories");
        }
        plot.series().put(series, perCategory.clone());
        return this;
    }

    /** The header every benchmark prints first: command, device, date. */
    public void printHeader() {
        System.out.println("command: " + command);
        System.out.println("device:  " + device);
        System.out.println("date:    " + date);
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * Writes {@code dir/BENCH-DATE.json} and its PNG plot. The plot needs AWT (java.desktop): a runtime without it
     * (the GPU machine's jlinked one) gets the JSON and a line saying how to draw the PNG from it elsewhere.
     */
    public Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            String stem = bench + "-" + date.replace(":", "").replace("-", "").replaceAll("\\.\\d+", "");
            Path json = dir.resolve(stem + ".json");
            JSON.writeValue(json.toFile(), this);
            (quiet ? System.err : System.out).println("json:    " + json);
            Path png = dir.resolve(stem + ".png");
            try {
                BenchPlot.write(this, png);
                (quiet ? System.err : System.out).println("plot:    " + png);
            } catch (LinkageError | RuntimeException e) {
                (quiet ? System.err : System.out).println("plot:    not drawn here (" + e + "); draw it with: arbor bench plot " + json);
            }
            return json;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The value of the first figure whose name contains {@code needle} in a peer's JSON ({@code bench/peers/engine_torch.py
     * --json}: {@code {"figures": {name: {"value": v, ...}}}}), or NaN when there is no file or no such figure.
     */
    public static double peerFigure(Path peerJson, String needle) {
        if (peerJson == null || !Files.exists(peerJson)) return Double.NaN;
        try {
            var figures = JSON.readTree(peerJson.toFile()).path("figures");
            for (var e : (Iterable<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>>) figures::fields) {
                if (e.getKey().contains(needle)) return e.getValue().path("value").asDouble(Double.NaN);
            }
            return Double.NaN;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A top-level number of a peer's JSON ({@code "matmul_TFLOPs"}), or NaN when there is no file or no such field. */
    public static double peerValue(Path peerJson, String field) {
        if (peerJson == null || !Files.exists(peerJson)) return Double.NaN;
        try {
            return JSON.readTree(peerJson.toFile()).path(field).asDouble(Double.NaN);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static BenchReport read(Path json) throws IOException {
        return JSON.readValue(json.toFile(), BenchReport.class);
    }
}
