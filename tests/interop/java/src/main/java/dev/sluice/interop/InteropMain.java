package dev.sluice.interop;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the Java-client interop stages against one broker and reports each stage on its own line.
 *
 * <p>Usage: {@code InteropMain BOOTSTRAP [RECORDS=100000] [STAGES=produce,consume,group,codecs,admin]}
 *
 * <p>Output: one {@code STAGE <name> PASS|FAIL <detail>} line per stage, then a summary line.
 * Exit code 0 only if every stage passed, 1 if any failed, 2 on bad usage.
 */
public final class InteropMain {
    private InteropMain() {}

    public static void main(String[] args) {
        if (args.length < 1 || args.length > 3) {
            System.err.println("usage: InteropMain BOOTSTRAP [RECORDS] [STAGES]");
            System.exit(2);
        }
        String bootstrap = args[0];
        int records = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        List<String> stages = List.of((args.length > 2 ? args[2] : "produce,consume,group,codecs,admin").split(","));

        Clients clients = new Clients(bootstrap);
        String prefix = "interop-" + System.currentTimeMillis();
        ProduceConsume data = new ProduceConsume(clients, prefix + "-data", records);
        Codecs codecs = new Codecs(clients, prefix + "-codecs");
        AdminChecks admin = new AdminChecks(clients, prefix);
        List<String> dataTopics = new ArrayList<>();

        Map<String, Stage> all = new LinkedHashMap<>();
        all.put("produce", () -> {
            dataTopics.add(prefix + "-data");
            return data.produce();
        });
        all.put("consume", data::consume);
        all.put("group", data::group);
        all.put("codecs", () -> {
            dataTopics.add(prefix + "-codecs");
            return codecs.run();
        });
        all.put("admin", () -> admin.run(dataTopics));

        int passed = 0;
        int failed = 0;
        for (String name : stages) {
            Stage stage = all.get(name);
            if (stage == null) {
                System.err.println("unknown stage '" + name + "'; known: " + all.keySet());
                System.exit(2);
            }
            long start = System.nanoTime();
            try {
                String detail = stage.run();
                passed++;
                System.out.printf("STAGE %s PASS %s (%d ms)%n", name, detail, (System.nanoTime() - start) / 1_000_000);
            } catch (Throwable t) {
                failed++;
                String message = t instanceof Check.Mismatch ? t.getMessage() : t.toString();
                System.out.printf("STAGE %s FAIL %s%n", name, message.replace('\n', ' '));
                if (!(t instanceof Check.Mismatch)) {
                    t.printStackTrace();
                }
            }
            System.out.flush();
        }
        System.out.printf("interop summary: bootstrap=%s records=%d stages_ok=%d stages_failed=%d%n",
                bootstrap, records, passed, failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    /** One named check; returns a one-line description of what it verified. */
    @FunctionalInterface
    interface Stage {
        String run() throws Exception;
    }
}
