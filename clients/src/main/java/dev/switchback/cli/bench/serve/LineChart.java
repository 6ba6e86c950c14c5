package dev.switchback.cli.bench.serve;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A line chart drawn with Java2D, no window system needed: axes with round-number ticks (powers of two on a log₂
 * x axis, 1-2-5 steps on a log₁₀ one), one polyline per series, a legend. Several charts side by side make one PNG.
 */
final class LineChart {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b),
        new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};

    /** One line; {@code dashed} draws it dashed (a p99 beside its p50, say), {@code points} marks each point. */
    record Series(String name, double[] x, double[] y, boolean dashed, boolean points) {}

    /** How x values map to pixels; on the log scales, values at or below zero are left out. */
    enum XAxis {
        LINEAR,
        LOG2,
        LOG10
    }

    /** Which corner of the plot holds the legend. */
    enum Legend {
        TOP_LEFT,
        BOTTOM_RIGHT
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final XAxis xAxis;
    private final Legend legend;
    private final List<Series> series = new ArrayList<>();
    private final List<Integer> colors = new ArrayList<>();

    LineChart(String title, String xLabel, String yLabel, XAxis xAxis, Legend legend) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
        this.xAxis = xAxis;
        this.legend = legend;
    }

    /** Adds a series in the palette's {@code color}-th colour. */
    LineChart add(Series s, int color) {
        if (s.x().length != s.y().length) {
            throw new IllegalArgumentException("series " + s.name() + ": " + s.x().length + " x values but " + s.y().length + " y values");
        }
        series.add(s);
        colors.add(color);
        return this;
    }

    /** Writes the charts side by side, each {@code width} × {@code height} pixels. */
    static void writePng(Path file, int width, int height, List<LineChart> charts) throws IOException {
        BufferedImage image = new BufferedImage(width * charts.size(), height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, image.getWidth(), image.getHeight());
            for (int i = 0; i < charts.size(); i++) {
                charts.get(i).draw(g, i * width, 0, width, height);
            }
        } finally {
            g.dispose();
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        if (!ImageIO.write(image, "png", tmp.toFile())) {
            throw new IOException("no PNG writer in this Java runtime");
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private void draw(Graphics2D g, int left, int top, int width, int height) {
        Font base = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
        g.setFont(base);
        FontMetrics fm = g.getFontMetrics();
        int px = left + 64;
        int py = top + 34;
        int pw = width - 64 - 20;
        int ph = height - 34 - 50;
        boolean log = xAxis != XAxis.LINEAR;

        double xMin = Double.POSITIVE_INFINITY;
        double xMax = Double.NEGATIVE_INFINITY;
        double yMax = 0;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (visible(s.x()[i], s.y()[i])) {
                    xMin = Math.min(xMin, s.x()[i]);
                    xMax = Math.max(xMax, s.x()[i]);
                    yMax = Math.max(yMax, s.y()[i]);
                }
            }
        }
        if (xMin > xMax) {
            xMin = 1;
            xMax = 2;
        }
        if (!log) {
            xMin = Math.min(0, xMin);
        }
        if (xMax <= xMin) {
            xMax = log ? xMin * 2 : xMin + 1;
        }
        // A legend at the top gets headroom above the data, so that it covers no line.
        double headroom = legend == Legend.TOP_LEFT ? 1 + 0.1 * (series.size() + 1) : 1;
        double[] yTicks = ticks(0, yMax > 0 ? yMax * headroom : 1);
        double[] xTicks = switch (xAxis) {
            case LINEAR -> ticks(xMin, xMax);
            case LOG2 -> powersOfTwo(xMin, xMax);
            case LOG10 -> logTicks(xMin, xMax);
        };
        double xLo = xAxis == XAxis.LOG2 ? xMin : Math.min(xMin, xTicks[0]);
        double xHi = xAxis == XAxis.LOG2 ? xMax : Math.max(xMax, xTicks[xTicks.length - 1]);
        Scale sx = log ? new Scale(Math.log(xLo), Math.log(xHi), px, px + pw, true) : new Scale(xLo, xHi, px, px + pw, false);
        Scale sy = new Scale(0, yTicks[yTicks.length - 1], py + ph, py, false);

        g.setColor(Color.BLACK);
        g.setFont(base.deriveFont(Font.BOLD, 13f));
        g.drawString(title, left + (width - g.getFontMetrics().stringWidth(title)) / 2, top + 20);
        g.setFont(base);
        g.setStroke(new BasicStroke(1f));
        for (double t : yTicks) {
            int y = sy.at(t);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(px, y, px + pw, y);
            g.setColor(Color.DARK_GRAY);
            String label = format(t);
            g.drawString(label, px - 6 - fm.stringWidth(label), y + fm.getAscent() / 2 - 1);
        }
        for (double t : xTicks) {
            int x = sx.at(t);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(x, py, x, py + ph);
            g.setColor(Color.DARK_GRAY);
            String label = format(t);
            g.drawString(label, x - fm.stringWidth(label) / 2, py + ph + fm.getAscent() + 4);
        }
        g.setColor(Color.BLACK);
        g.drawRect(px, py, pw, ph);
        g.drawString(xLabel, px + (pw - fm.stringWidth(xLabel)) / 2, py + ph + 2 * fm.getHeight() + 6);
        Graphics2D rotated = (Graphics2D) g.create();
        rotated.rotate(-Math.PI / 2);
        rotated.drawString(yLabel, -(py + (ph + fm.stringWidth(yLabel)) / 2), left + fm.getAscent() + 2);
        rotated.dispose();

        for (int k = 0; k < series.size(); k++) {
            Series s = series.get(k);
            g.setColor(color(k));
            g.setStroke(stroke(s));
            Path2D.Double line = new Path2D.Double();
            boolean started = false;
            for (int i = 0; i < s.x().length; i++) {
                if (!visible(s.x()[i], s.y()[i])) {
                    continue;
                }
                double x = sx.exact(s.x()[i]);
                double y = sy.exact(s.y()[i]);
                if (started) {
                    line.lineTo(x, y);
                } else {
                    line.moveTo(x, y);
                    started = true;
                }
                if (s.points()) {
                    g.fillOval((int) Math.round(x) - 3, (int) Math.round(y) - 3, 7, 7);
                }
            }
            g.draw(line);
        }
        drawLegend(g, fm, px, py, pw, ph);
    }

    private void drawLegend(Graphics2D g, FontMetrics fm, int px, int py, int pw, int ph) {
        int textWidth = series.stream().mapToInt(s -> fm.stringWidth(s.name())).max().orElse(0);
        int boxWidth = textWidth + 46;
        int boxHeight = series.size() * (fm.getHeight() + 2) + 8;
        int bx = legend == Legend.TOP_LEFT ? px + 6 : px + pw - boxWidth - 6;
        int by = legend == Legend.TOP_LEFT ? py + 6 : py + ph - boxHeight - 6;
        g.setStroke(new BasicStroke(1f));
        g.setColor(Color.WHITE);
        g.fillRect(bx, by, boxWidth, boxHeight);
        g.setColor(Color.LIGHT_GRAY);
        g.drawRect(bx, by, boxWidth, boxHeight);
        for (int k = 0; k < series.size(); k++) {
            int ly = by + 4 + fm.getAscent() + k * (fm.getHeight() + 2);
            g.setColor(color(k));
            g.setStroke(stroke(series.get(k)));
            g.drawLine(bx + 6, ly - 4, bx + 32, ly - 4);
            g.setColor(Color.BLACK);
            g.drawString(series.get(k).name(), bx + 38, ly);
        }
    }

    private boolean visible(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y) && (xAxis == XAxis.LINEAR || x > 0);
    }

    private Color color(int k) {
        return PALETTE[colors.get(k) % PALETTE.length];
    }

    private static BasicStroke stroke(Series s) {
        return s.dashed() ? new BasicStroke(1.8f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {6f, 4f}, 0f)
                : new BasicStroke(1.8f);
    }

    /** Round-number ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi], about five of them. */
    static double[] ticks(double lo, double hi) {
        double raw = (hi - lo) / 5;
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = magnitude * (raw / magnitude <= 1 ? 1 : raw / magnitude <= 2 ? 2 : raw / magnitude <= 5 ? 5 : 10);
        double start = Math.floor(lo / step) * step;
        int n = (int) Math.ceil((hi - start) / step - 1e-9) + 1;
        double[] out = new double[Math.max(2, n)];
        for (int i = 0; i < out.length; i++) {
            out[i] = start + i * step;
        }
        return out;
    }

    private static double[] powersOfTwo(double lo, double hi) {
        List<Double> out = new ArrayList<>();
        for (double p = Math.pow(2, Math.ceil(log2(lo) - 1e-9)); p <= hi * (1 + 1e-9); p *= 2) {
            out.add(p);
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }

    /** 1, 2, 5 × 10^k covering [lo, hi] (powers of ten alone past three decades). */
    static double[] logTicks(double lo, double hi) {
        int from = (int) Math.floor(Math.log10(lo));
        int to = (int) Math.ceil(Math.log10(hi));
        double[] steps = to - from > 3 ? new double[] {1} : new double[] {1, 2, 5};
        List<Double> out = new ArrayList<>();
        for (int e = from; e <= to; e++) {
            for (double m : steps) {
                double v = m * Math.pow(10, e);
                boolean below = v < lo;
                if (below && !out.isEmpty()) {
                    out.clear();
                }
                out.add(v);
                if (v >= hi) {
                    return out.stream().mapToDouble(Double::doubleValue).toArray();
                }
            }
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static String format(double v) {
        return java.math.BigDecimal.valueOf(v).round(new java.math.MathContext(3)).stripTrailingZeros().toPlainString();
    }

    /** Maps data values to pixels (through the natural log when {@code log}; lo and hi are then logs too). */
    private record Scale(double lo, double hi, int from, int to, boolean log) {
        double exact(double v) {
            double d = log ? Math.log(v) : v;
            return from + (d - lo) / (hi - lo) * (to - from);
        }

        int at(double v) {
            return (int) Math.round(exact(v));
        }
    }
}
