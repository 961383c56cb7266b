package dev.sluice.interop;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.function.BooleanSupplier;

/**
 * Assertions for the interop stages.
 *
 * <p>Why: the program must fail with a message that says exactly what the broker got wrong, and
 * must wait on conditions with a deadline rather than sleeping, so these helpers are shared by all
 * stages.
 */
final class Check {
    private Check() {}

    /** Thrown when the broker's observable behaviour differs from what the stage expects. */
    static final class Mismatch extends RuntimeException {
        Mismatch(String message) {
            super(message);
        }
    }

    static void that(boolean condition, String format, Object... args) {
        if (!condition) {
            throw new Mismatch(String.format(format, args));
        }
    }

    static void equal(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new Mismatch(what + ": expected <" + expected + "> but got <" + actual + ">");
        }
    }

    /** Polls {@code condition} until it holds or {@code deadline} passes. */
    static void eventually(Duration deadline, String what, BooleanSupplier condition) {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() > end) {
                throw new Mismatch("timed out after " + deadline.toMillis() + " ms waiting for: " + what);
            }
            try {
                Thread.sleep(50); // poll interval of a deadline-bounded wait
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Mismatch("interrupted waiting for: " + what);
            }
        }
    }

    /** A blocking Kafka client call whose failure cause is what the caller cares about. */
    interface Call<T> {
        T get() throws Exception;
    }

    /** Runs {@code call} expecting it to fail with {@code expected} as the (unwrapped) cause. */
    static Throwable fails(Class<? extends Throwable> expected, String what, Call<?> call) {
        Object result;
        try {
            result = call.get();
        } catch (ExecutionException e) {
            return assertCause(expected, what, e.getCause());
        } catch (Exception e) {
            return assertCause(expected, what, e);
        }
        throw new Mismatch(what + ": expected " + expected.getSimpleName() + " but succeeded with " + result);
    }

    private static Throwable assertCause(Class<? extends Throwable> expected, String what, Throwable cause) {
        if (!expected.isInstance(cause)) {
            throw new Mismatch(what + ": expected " + expected.getSimpleName() + " but got " + cause);
        }
        return cause;
    }

    /** Unwraps an ExecutionException so stage failures show the broker's error, not the future. */
    static <T> T await(String what, Call<T> call) {
        try {
            return call.get();
        } catch (ExecutionException e) {
            throw new Mismatch(what + " failed: " + e.getCause());
        } catch (Mismatch e) {
            throw e;
        } catch (Exception e) {
            throw new Mismatch(what + " failed: " + e);
        }
    }
}
