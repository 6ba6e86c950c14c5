import jdk.incubator.vector.*;
public class B {
  static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
  static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  static double scalar(float[] x, int n, float max, double s, double[] w) {
    double sum = 0;
    for (int i = 0; i < n; i++) { double e = Math.exp((x[i] - (double) max) * s); w[i] = e; sum += e; }
    return sum;
  }
  static double vec(float[] x, int n, float max, double s, double[] w) {
    DoubleVector acc = DoubleVector.zero(D);
    int i = 0; int L = D.length();
    for (; i <= n - L; i += L) {
      FloatVector fx = FloatVector.fromArray(FloatVector.SPECIES_128, x, i);
      DoubleVector dx = (DoubleVector) fx.convertShape(VectorOperators.F2D, D, 0);
      DoubleVector e = dx.sub(max).mul(s).lanewise(VectorOperators.EXP);
      e.intoArray(w, i);
      acc = acc.add(e);
    }
    double sum = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) { double e = Math.exp((x[i] - (double) max) * s); w[i] = e; sum += e; }
    return sum;
  }
  static int draw(double[] w, int n, double u) { double acc = 0; for (int i = 0; i < n; i++) { acc += w[i]; if (u < acc) return i; } return n - 1; }
  public static void main(String[] a) {
    int n = 150_000; float[] x = new float[n]; var r = new java.util.SplittableRandom(1);
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 3);
    float max = Float.NEGATIVE_INFINITY; for (float v : x) max = Math.max(max, v);
    double[] w = new double[n];
    System.out.println(D + " " + F);
    for (int rep = 0; rep < 5; rep++) {
      long t0 = System.nanoTime(); double s1 = 0; for (int k = 0; k < 200; k++) s1 += scalar(x, n, max, 1.0, w);
      long t1 = System.nanoTime(); double s2 = 0; for (int k = 0; k < 200; k++) s2 += vec(x, n, max, 1.0, w);
      long t2 = System.nanoTime(); int d = 0; for (int k = 0; k < 200; k++) d += draw(w, n, s2/200 * (k / 200.0));
      long t3 = System.nanoTime();
      System.out.printf("scalar %.1f us vec %.1f us draw %.1f us  %.17g %.17g%n", (t1-t0)/200e3, (t2-t1)/200e3, (t3-t2)/200e3, s1, s2);
    }
  }
}
