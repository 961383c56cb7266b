package dev.sluice.toolserver;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.common.utils.Exit;

/**
 * Runs Kafka CLI main classes one after another inside one warm JVM.
 *
 * <p>Why: the test suites invoke Kafka's tools (kafka-topics, kafka-configs, console producer and
 * consumer, GetOffsetShell, DumpLogSegments) dozens of times; a fresh JVM per call costs ~2 s on
 * the 2-core test machines. Kafka's tools end through {@link Exit}, which lets an embedding program
 * turn exits into exceptions (Kafka's own tool tests do the same), so a tool's exit code, stdout
 * and stderr can be captured per call exactly as a separate process would produce them.
 *
 * <p>Protocol on the process's real stdin/stdout (big-endian, strings UTF-8 with int length):
 * request = main class, argc, args..., stdin bytes; response = exit code, stdout bytes, stderr
 * bytes. On startup the server writes the int 0x5EED. EOF on stdin ends the server.
 */
public final class ToolServer {
    private static final int READY = 0x5EED;

    /** Thrown instead of ending the JVM when a tool calls Exit.exit/halt. */
    private static final class ExitCalled extends RuntimeException {
        ExitCalled(int code) {
            super("exit " + code, null, false, false);
        }
    }

    /** The first exit code a tool asked for wins, as it would in a real JVM that stops there. */
    private static volatile Integer firstExitCode;

    /** The thread that asked to exit: in a real JVM it would print nothing more. */
    private static volatile Thread exitThread;

    /** Shutdown hooks registered through Exit during the current call. */
    private static final List<Thread> HOOKS = new CopyOnWriteArrayList<>();

    private static final long HOOK_DEADLINE_MS = 60_000;

    private ToolServer() {}

    private static void runShutdownHooks() {
        List<Thread> hooks = new ArrayList<>(HOOKS);
        HOOKS.clear();
        hooks.forEach(Thread::start);
        long end = System.currentTimeMillis() + HOOK_DEADLINE_MS;
        for (Thread hook : hooks) {
            try {
                hook.join(Math.max(1, end - System.currentTimeMillis()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    public static void main(String[] ignored) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(FileDescriptor.in)));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out)));
        PrintStream realOut = System.out;
        PrintStream realErr = System.err;
        InputStream realIn = System.in;
        Exit.Procedure capture = (code, message) -> {
            if (firstExitCode == null) {
                exitThread = Thread.currentThread();
                firstExitCode = code;
            }
            throw new ExitCalled(code);
        };
        Exit.setExitProcedure(capture);
        Exit.setHaltProcedure(capture);
        // A tool's shutdown hooks (e.g. the console producer's close-and-flush) run when its call ends,
        // as a real JVM would run them on exit.
        Exit.setShutdownHookAdder((name, runnable) -> HOOKS.add(new Thread(runnable, name == null ? "hook" : name)));

        out.writeInt(READY);
        out.flush();
        while (true) {
            String mainClass;
            try {
                mainClass = readString(in);
            } catch (EOFException e) {
                break;
            }
            String[] args = new String[in.readInt()];
            for (int i = 0; i < args.length; i++) {
                args[i] = readString(in);
            }
            byte[] stdin = readBytes(in);

            ByteArrayOutputStream capturedOut = new ByteArrayOutputStream();
            ByteArrayOutputStream capturedErr = new ByteArrayOutputStream();
            PrintStream toolOut = new PrintStream(new UntilExit(capturedOut), true, StandardCharsets.UTF_8);
            PrintStream toolErr = new PrintStream(new UntilExit(capturedErr), true, StandardCharsets.UTF_8);
            firstExitCode = null;
            exitThread = null;
            int code;
            System.setOut(toolOut);
            System.setErr(toolErr);
            System.setIn(new ByteArrayInputStream(stdin));
            try {
                // Scala tools (DumpLogSegments, ConfigCommand) print through scala.Console, which
                // keeps its own per-thread stream: point it at this call's capture too.
                int[] result = new int[1];
                scala.Console.withOut(toolOut, (scala.Function0<Object>) () ->
                        scala.Console.withErr(toolErr, (scala.Function0<Object>) () -> {
                            result[0] = invokeMain(mainClass, args, toolErr);
                            return null;
                        }));
                code = result[0];
            } finally {
                runShutdownHooks();
                toolOut.flush();
                toolErr.flush();
                System.setOut(realOut);
                System.setErr(realErr);
                System.setIn(realIn);
            }
            if (firstExitCode != null) {
                code = firstExitCode;
            }
            out.writeInt(code);
            writeBytes(out, capturedOut.toByteArray());
            writeBytes(out, capturedErr.toByteArray());
            out.flush();
        }
        System.exit(0); // tools may leave non-daemon threads behind; the server is done
    }

    /**
     * Drops what the exiting thread writes after it asked to exit: a real JVM would have stopped
     * it there, but here the ExitCalled exception unwinds through the tool's catch blocks, which
     * may print it. Other threads (shutdown hooks) keep writing, as they would during exit.
     */
    private static final class UntilExit extends FilterOutputStream {
        UntilExit(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            if (stillWriting()) {
                out.write(b);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (stillWriting()) {
                out.write(b, off, len);
            }
        }
    }

    /** Runs {@code mainClass.main(args)}; returns 0, or the exit code a failure maps to. */
    private static int invokeMain(String mainClass, String[] args, PrintStream toolErr) {
        try {
            Class.forName(mainClass).getMethod("main", String[].class).invoke(null, (Object) args);
            return 0;
        } catch (InvocationTargetException e) {
            return exitCodeOf(e.getCause(), toolErr);
        } catch (Throwable t) {
            return exitCodeOf(t, toolErr);
        }
    }

    private static boolean stillWriting() {
        return firstExitCode == null || Thread.currentThread() != exitThread;
    }

    private static int exitCodeOf(Throwable t, PrintStream err) {
        if (t instanceof ExitCalled) {
            return firstExitCode == null ? 1 : firstExitCode;
        }
        // Like an uncaught exception in a real JVM: stack trace on stderr, exit code 1.
        err.print("Exception in thread \"main\" ");
        t.printStackTrace(err);
        return 1;
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return b;
    }

    private static String readString(DataInputStream in) throws IOException {
        return new String(readBytes(in), StandardCharsets.UTF_8);
    }

    private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }
}
