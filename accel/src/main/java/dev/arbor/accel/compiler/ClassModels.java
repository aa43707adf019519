package dev.arbor.accel.compiler;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Parsed class files of kernel classes and their helpers, read through the class loader. */
final class ClassModels {
    private static final Map<String, ClassModel> CACHE = new ConcurrentHashMap<>();

    private ClassModels() {}

    static ClassModel load(ClassLoader loader, String internalName) {
        return CACHE.computeIfAbsent(internalName, n -> {
            try (InputStream in = (loader == null ? ClassLoader.getSystemClassLoader() : loader).getResourceAsStream(n + ".class")) {
                if (in == null) throw new KernelCompileException("class file of " + n.replace('/', '.') + " not found");
                return ClassFile.of().parse(in.readAllBytes());
            } catch (IOException e) {
                throw new KernelCompileException("cannot read class file of " + n + ": " + e);
            }
        });
    }
}
