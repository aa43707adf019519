package dev.arbor.server.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** Draws a {@link BenchReport}'s bar chart into a PNG with XChart (headless AWT). */
final class BenchPlot {
    private BenchPlot() {}

    static void write(BenchReport r, Path png) {
        System.setProperty("java.awt.headless", "true");
        BenchReport.Plot p = r.plot();
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(560)
                .title(p.title()).xAxisTitle(r.device()).yAxisTitle(p.yLabel()).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setLabelsVisible(true);
        chart.getStyler().setDecimalPattern("#,##0.###");
        chart.getStyler().setChartTitleFont(chart.getStyler().getChartTitleFont().deriveFont(15f));
        chart.getStyler().setAxisTitleFont(chart.getStyler().getAxisTitleFont().deriveFont(11f));
        for (Map.Entry<String, double[]> s : p.series().entrySet()) {
            List<String> cats = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (int i = 0; i < p.categories().size(); i++) {
                cats.add(p.categories().get(i));
                ys.add(Double.isNaN(s.getValue()[i]) ? 0.0 : s.getValue()[i]);   // XChart draws no NaN bars; 0 leaves the slot empty
            }
            chart.addSeries(s.getKey(), cats, ys);
        }
        try {
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
