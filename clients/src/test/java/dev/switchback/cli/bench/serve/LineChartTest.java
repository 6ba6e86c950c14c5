package dev.switchback.cli.bench.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LineChartTest {

    @Test
    void ticksAreRoundNumbersCoveringTheRange() {
        assertArrayEquals(new double[] {0, 0.2, 0.4, 0.6, 0.8, 1.0}, LineChart.ticks(0, 1), 1e-12);
        assertArrayEquals(new double[] {0, 20, 40, 60, 80}, LineChart.ticks(0, 73), 1e-12);
        assertArrayEquals(new double[] {0, 500, 1000, 1500, 2000}, LineChart.ticks(0, 1702), 1e-12);
        assertArrayEquals(new double[] {0.5, 1, 2, 5}, LineChart.logTicks(0.6, 4.4), 1e-12);
        assertArrayEquals(new double[] {0.01, 0.1, 1, 10, 100}, LineChart.logTicks(0.02, 78), 1e-12);
    }

    /** The line is drawn where its values say: a rising series darkens the lower left and upper right of the plot. */
    @Test
    void aSeriesIsDrawnInItsColourWhereItsValuesAre(@TempDir Path dir) throws Exception {
        LineChart chart = new LineChart("t", "x", "y", LineChart.XAxis.LINEAR, LineChart.Legend.BOTTOM_RIGHT)
                .add(new LineChart.Series("s", new double[] {0, 10}, new double[] {0, 10}, false, false), 1);
        Path png = dir.resolve("c.png");
        LineChart.writePng(png, 400, 300, List.of(chart));
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(400, image.getWidth());
        assertEquals(300, image.getHeight());
        // Plot area: x 64..380, y 34..250; the diagonal crosses its centre.
        int cx = 64 + (380 - 64) / 2;
        int cy = 34 + (250 - 34) / 2;
        assertNotEquals(0xffffff, image.getRGB(cx, cy) & 0xffffff, "the line passes the centre");
        int red = 0;
        for (int dx = -2; dx <= 2; dx++) {
            for (int dy = -2; dy <= 2; dy++) {
                int rgb = image.getRGB(cx + dx, cy + dy);
                red = Math.max(red, ((rgb >> 16) & 0xff) - (rgb & 0xff));
            }
        }
        assertEquals(true, red > 100, "in the palette's red");
        assertEquals(0xffffff, image.getRGB(64 + 20, 34 + 20) & 0xffffff, "nothing in the empty upper left");
    }
}
