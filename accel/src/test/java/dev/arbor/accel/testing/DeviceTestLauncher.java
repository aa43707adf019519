package dev.arbor.accel.testing;

import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

/**
 * Runs tagged tests on the GPU machine without the 3 MB console launcher (the bundle carried there has a
 * 64 MiB limit): {@code java -cp <jars> dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models
 * dev.arbor.kernels.attention.AttentionGpuTest ...}. Arguments after the tag are packages, or classes when
 * the last name starts with a capital, or {@code Class#method} for one test method. Prints one line per test (failures with their message), the
 * summary, and exits 1 when a test failed or none ran.
 */
public final class DeviceTestLauncher {
    private DeviceTestLauncher() {}

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: DeviceTestLauncher TAG PACKAGE|CLASS...");
            System.exit(2);
        }
        List<DiscoverySelector> selectors = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String last = args[i].substring(args[i].lastIndexOf('.') + 1);
            if (args[i].contains("#")) selectors.add(selectMethod(args[i]));   // Class#method: one test method
            else selectors.add(!last.isEmpty() && Character.isUpperCase(last.charAt(0)) ? selectClass(args[i]) : selectPackage(args[i]));
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectors)
                .filters(TagFilter.includeTags(args[0])).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        TestExecutionListener lines = new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (!id.isTest()) return;
                String status = result.getStatus().name();
                String why = result.getThrowable().map(t -> ": " + t).orElse("");
                System.out.println(status + " " + id.getUniqueId().replaceAll("\\[engine:[^]]*]/", "") + why);
            }
        };
        launcher.execute(request, summary, lines);
        PrintWriter out = new PrintWriter(System.out, true);
        summary.getSummary().printTo(out);
        summary.getSummary().printFailuresTo(out, 20);
        long failed = summary.getSummary().getTotalFailureCount();
        System.exit(failed > 0 || summary.getSummary().getTestsSucceededCount() == 0 ? 1 : 0);
    }
}
