package dev.oncely.benchmarks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes the peer comparison as an SVG bar chart: one row per variant, one bar per concurrency, at the first
 * duplicate rate measured, messages per second on a log scale. Hand-written SVG: no charting dependency.
 */
final class Chart {

    private static final String[] COLORS = {"#9ecae1", "#4292c6", "#08519c", "#fd8d3c", "#e6550d"};

    private Chart() {
    }

    static String svg(Map<String, Map<String, PeerHarness.Cell>> results, List<PeerHarness.Variant> variants) {
        // Cells are named "c=<n> dup=<d>%": keep the first duplicate rate, one series per concurrency.
        String firstDup = results.keySet().iterator().next().replaceAll("^c=\\d+ ", "");
        Map<String, Map<String, PeerHarness.Cell>> series = new LinkedHashMap<>();
        results.forEach((cell, byVariant) -> {
            if (cell.endsWith(firstDup)) {
                series.put(cell.substring(0, cell.indexOf(' ')), byVariant);
            }
        });
        double max = 1;
        for (Map<String, PeerHarness.Cell> byVariant : series.values()) {
            for (PeerHarness.Cell c : byVariant.values()) {
                max = Math.max(max, c.perSecond());
            }
        }
        double minLog = 2; // 100 msg/s
        double maxLog = Math.ceil(Math.log10(max));
        int labelWidth = 250;
        int plotWidth = 600;
        int barHeight = 7;
        int rowHeight = barHeight * series.size() + 6;
        int top = 50;
        int height = top + rowHeight * variants.size() + 50;
        int width = labelWidth + plotWidth + 30;
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                + " font-family=\"sans-serif\" font-size=\"11\">%n", width, height));
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        s.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"18\" font-size=\"14\">Messages per second, %s"
                + " duplicates, PostgreSQL, same pool and business table (log scale)</text>%n", firstDup.substring(4)));
        int lx = labelWidth;
        List<String> names = new ArrayList<>(series.keySet());
        for (int i = 0; i < names.size(); i++) {
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"28\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                    + "<text x=\"%d\" y=\"37\">%s</text>%n", lx, COLORS[i % COLORS.length], lx + 14,
                    names.get(i).replace("c=", "concurrency ")));
            lx += 110;
        }
        for (double p = minLog; p <= maxLog; p++) {
            double x = labelWidth + (p - minLog) / (maxLog - minLog) * plotWidth;
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", x, top, x,
                    top + rowHeight * variants.size(), x, top + rowHeight * variants.size() + 14,
                    String.format(Locale.ROOT, "%,d", (long) Math.pow(10, p))));
        }
        for (int v = 0; v < variants.size(); v++) {
            PeerHarness.Variant variant = variants.get(v);
            int y = top + v * rowHeight;
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n",
                    labelWidth - 6, y + rowHeight / 2 + 4, escape(variant.label)));
            for (int i = 0; i < names.size(); i++) {
                PeerHarness.Cell c = series.get(names.get(i)).get(variant.id);
                double value = c == null ? 0 : c.perSecond();
                double w = value <= 100 ? 0 : (Math.log10(value) - minLog) / (maxLog - minLog) * plotWidth;
                s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                        + "<title>%s %s: %,.0f msg/s</title></rect>%n", labelWidth, y + 3 + i * barHeight, w,
                        barHeight - 1, COLORS[i % COLORS.length], escape(variant.label), names.get(i), value));
            }
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">messages per second</text>%n",
                labelWidth + plotWidth / 2, height - 12));
        s.append("</svg>\n");
        return s.toString();
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
