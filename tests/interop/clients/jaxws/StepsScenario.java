// The `steps` part of the JAX-WS interop scenario (steps 1-11), through the classes
// wsimport generated from STEPS_ENDPOINT?wsdl. See JaxwsClient.java.
//
// The `// generated` imports are the namespace-derived packages of a plain `wsimport`;
// for `wsimport -p PKG` build.sh rewrites each of them to `import PKG.*;`.

import java.math.BigDecimal;
import java.net.URL;
import java.util.ArrayList;
import java.util.GregorianCalendar;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import java.util.TreeSet;

import javax.jws.WebMethod;
import javax.xml.bind.JAXBElement;
import javax.xml.datatype.DatatypeConstants;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.namespace.QName;
import javax.xml.ws.Holder;
import javax.xml.ws.soap.AddressingFeature;
import javax.xml.ws.wsaddressing.W3CEndpointReference;

import uws.wsrf.steps.v1.*;                 // generated
import uws.wsrf.core.v1.*;                  // generated
import net.ivoa.xml.uws.v1.*;               // generated
import org.oasis_open.docs.wsrf.rp_2.*;     // generated

final class StepsScenario {
    private StepsScenario() { }

    static final QName PHASE = new QName(JaxwsClient.CORE, "Phase");
    static final QName JOB_STATE = new QName(JaxwsClient.CORE, "JobState");
    static final QName UWS_JOB = new QName(JaxwsClient.UWS, "job");

    /** The single value of a GetResourceProperty reply (lax xs:any: JAXB maps known elements). */
    static <T> T property(GetResourcePropertyResponse reply, QName name, Class<T> type) {
        List<Object> any = reply.getAny();
        JaxwsClient.check(any.size() == 1, "GetResourceProperty " + name + " answered "
                          + any.size() + " elements");
        Object item = any.get(0);
        JaxwsClient.check(item instanceof JAXBElement, "GetResourceProperty " + name
                          + " answered a " + item.getClass().getName() + ", not a JAXBElement");
        JAXBElement<?> element = (JAXBElement<?>) item;
        JaxwsClient.check(element.getName().equals(name), "GetResourceProperty " + name
                          + " answered " + element.getName());
        JaxwsClient.check(type.isInstance(element.getValue()), name + " holds a "
                          + element.getValue().getClass().getName());
        return type.cast(element.getValue());
    }

    static String phase(StepsPortType job) throws Exception {
        return property(job.getResourceProperty(PHASE), PHASE, PhaseType.class).value();
    }

    static List<String> operations(Class<?> port) {
        TreeSet<String> names = new TreeSet<>();
        for (var method : port.getDeclaredMethods()) {
            names.add(method.getName());
        }
        return new ArrayList<>(names);
    }

    static List<String> wsdlOperations(Class<?> port) {
        TreeSet<String> names = new TreeSet<>();
        for (var method : port.getDeclaredMethods()) {
            WebMethod annotation = method.getAnnotation(WebMethod.class);
            String name = annotation == null ? "" : annotation.operationName();
            names.add(name.isEmpty() ? method.getName() : name);
        }
        return new ArrayList<>(names);
    }

    static void run(String endpoint) throws Exception {
        String wsa = JaxwsClient.WSA;
        StepsService service = new StepsService(new URL(endpoint + "?wsdl"));
        JaxwsClient.emit("wsdl",
            "version", com.sun.xml.ws.util.RuntimeVersion.VERSION + "; Java "
                       + System.getProperty("java.version"),
            "operations", operations(StepsPortType.class),
            "wsdl_operations", wsdlOperations(StepsPortType.class),
            "header_style", JaxwsClient.fields(
                "is_reference_parameter", JaxwsClient.IS_REFERENCE_PARAMETER,
                "must_understand", JaxwsClient.MUST_UNDERSTAND,
                "message_id", JaxwsClient.MESSAGE_ID_PREFIX));

        // createJob on the service port: no reference parameters yet.
        StepsPortType factory = service.getStepsPort(new AddressingFeature(true));
        JaxwsClient.WsaCheck factoryWire = JaxwsClient.WsaCheck.install(factory, wsa, null);
        Job jdl = new Job();
        jdl.setSteps(2);  // t:stepCount, 1..1000: JAXB maps it to int
        jdl.setStepSeconds(new BigDecimal("0.1"));
        W3CEndpointReference epr = factory.createJob(jdl, null);
        String[] addressAndId = JaxwsClient.readEpr(epr, wsa);
        String address = addressAndId[0];
        String resourceId = addressAndId[1];
        JaxwsClient.emit("createJob", "resource_id", resourceId, "address", address);

        // The job's port: the RI copies the EPR's Address into wsa:To and its reference
        // parameters into headers marked wsa:IsReferenceParameter.
        StepsPortType job = service.getPort(epr, StepsPortType.class, new AddressingFeature(true));
        JaxwsClient.WsaCheck wire = JaxwsClient.WsaCheck.install(job, wsa, resourceId);
        String started = job.startJob().value();
        JaxwsClient.check(address.equals(wire.sentTo), "wsa:To " + wire.sentTo + " is not " + address);
        JaxwsClient.emit("startJob", "phase", started);

        String phase = null;
        int polls = 0;
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            phase = phase(job);
            polls++;
            if (JaxwsClient.FINAL_PHASES.contains(phase) || System.nanoTime() > deadline) {
                break;
            }
            Thread.sleep(150);
        }
        JaxwsClient.check("COMPLETED".equals(phase), "the job ended " + phase + " after " + polls + " polls");
        JaxwsClient.emit("waitCompleted", "phase", phase, "polls", polls);

        JobStateType state = property(job.getResourceProperty(JOB_STATE), JOB_STATE, JobStateType.class);
        List<Map<String, Object>> results = new ArrayList<>();
        for (ResultType result : state.getResult()) {
            results.add(JaxwsClient.fields("name", result.getName(), "href", result.getHref(),
                                           "size", result.getSize()));
        }
        JaxwsClient.check(!results.isEmpty(), "JobState lists no uwscore:Result");
        JaxwsClient.emit("jobState", "phase", state.getPhase().value(), "results", results);

        ResultType first = state.getResult().get(0);
        JaxwsClient.check(first.getHref() != null && !first.getHref().isEmpty(),
                          "the first result has no xlink:href");
        Object[] got = JaxwsClient.httpGet(first.getHref());
        JaxwsClient.check((Integer) got[0] == 200, "GET " + first.getHref() + " answered " + got[0]);
        if (first.getSize() != null) {
            JaxwsClient.check(first.getSize() == ((Integer) got[1]).longValue(),
                              "the result is " + got[1] + " bytes, JobState says " + first.getSize());
        }
        JaxwsClient.emit("download", "name", first.getName(), "href", first.getHref(),
                         "status", got[0], "bytes", got[1]);

        JobSummary summary = property(job.getResourceProperty(UWS_JOB), UWS_JOB, JobSummary.class);
        JaxwsClient.check(resourceId.equals(summary.getJobId()),
                          "uws:job jobId '" + summary.getJobId() + "' is not '" + resourceId + "'");
        JaxwsClient.emit("getJob", "job_id", summary.getJobId(), "phase", summary.getPhase().value());

        GregorianCalendar inTwoHours = new GregorianCalendar(TimeZone.getTimeZone("UTC"));
        inTwoHours.add(GregorianCalendar.HOUR_OF_DAY, 2);
        XMLGregorianCalendar requested = DatatypeFactory.newInstance().newXMLGregorianCalendar(inTwoHours);
        Holder<XMLGregorianCalendar> newTime = new Holder<>();
        Holder<XMLGregorianCalendar> currentTime = new Holder<>();
        job.setTerminationTime(requested, null, newTime, currentTime);
        JaxwsClient.check(newTime.value != null && currentTime.value != null,
                          "SetTerminationTimeResponse lacks NewTerminationTime or CurrentTime");
        boolean inFuture = newTime.value.compare(currentTime.value) == DatatypeConstants.GREATER;
        JaxwsClient.check(inFuture, "NewTerminationTime " + newTime.value + " is not after CurrentTime "
                          + currentTime.value);
        JaxwsClient.emit("setTerminationTime", "new_termination_time", newTime.value.toXMLFormat(),
                         "current_time", currentTime.value.toXMLFormat(), "in_future", inFuture);

        job.destroy();
        QName destroyResponse = new QName(JaxwsClient.RL, "DestroyResponse");
        JaxwsClient.check(destroyResponse.equals(wire.replyBody),
                          "Destroy answered " + JaxwsClient.clark(wire.replyBody));
        JaxwsClient.emit("destroy", "response", JaxwsClient.clark(wire.replyBody));

        try {
            phase(job);
            throw new JaxwsClient.CheckFailed("GetResourceProperty after Destroy answered without a fault");
        } catch (ResourceUnknownFault fault) {
            String name = JaxwsClient.faultName(wire, fault,
                                                new QName(JaxwsClient.R, "ResourceUnknownFault"));
            var info = fault.getFaultInfo();            // the typed WS-BaseFaults detail
            JaxwsClient.check(info != null && !info.getDescription().isEmpty() && info.getTimestamp() != null,
                              "ResourceUnknownFault has no Description/Timestamp");
            JaxwsClient.emit("afterDestroy", "fault", name, "faultcode", wire.faultcode,
                             "description", info.getDescription().get(0).getValue());
        }

        Job invalid = new Job();
        invalid.setSteps(0);                               // below t:stepCount: refused
        invalid.setStepSeconds(new BigDecimal("0.1"));
        try {
            factory.createJob(invalid, null);
            throw new JaxwsClient.CheckFailed("createJob with steps=0 answered without a fault");
        } catch (InvalidJobDescriptionFault fault) {
            String name = JaxwsClient.faultName(factoryWire, fault,
                                                new QName(JaxwsClient.CORE, "InvalidJobDescriptionFault"));
            var info = fault.getFaultInfo();
            JaxwsClient.check(info != null && info.getReason() != null, "InvalidJobDescriptionFault has no Reason");
            JaxwsClient.emit("invalidJdl", "fault", name, "faultcode", factoryWire.faultcode,
                             "line", info.getLine(), "reason", info.getReason());
        }
    }
}
